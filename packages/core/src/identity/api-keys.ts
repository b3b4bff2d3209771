import { randomUUID } from 'node:crypto'
import { type Role, minRole, roleAtLeast } from '../context/principal.js'
import { generateApiKey } from './api-key-secret.js'
import { eventMeta, type IdentityContext, query, rows, toDate, toDateOrNull, transaction } from './identity-context.js'
import { forbidden, invalidField, notFound, roleEscalation } from './identity-errors.js'
import type { Actor, ApiKeyView, CreatedApiKey } from './identity-types.js'

interface ApiKeyRow {
  id: string
  organization_id: string
  project_id: string
  owner_user_id: string
  name: string
  prefix: string
  role: Role
  app_name: string | null
  expires_at: Date | string | null
  revoked_at: Date | string | null
  last_used_at: Date | string | null
  created_at: Date | string
}

const COLUMNS = 'id, organization_id, project_id, owner_user_id, name, prefix, role, app_name, expires_at, revoked_at, last_used_at, created_at'

function view(r: ApiKeyRow): ApiKeyView {
  return {
    id: r.id,
    organizationId: r.organization_id,
    projectId: r.project_id,
    ownerUserId: r.owner_user_id,
    name: r.name,
    prefix: r.prefix,
    role: r.role,
    appName: r.app_name,
    expiresAt: toDateOrNull(r.expires_at),
    revokedAt: toDateOrNull(r.revoked_at),
    lastUsedAt: toDateOrNull(r.last_used_at),
    createdAt: toDate(r.created_at),
  }
}

/** What a new API key needs. */
export interface CreateApiKeyInput {
  organizationId: string
  projectId: string
  /** The member who owns the key (spend lands on them); with an actor, the actor. */
  ownerUserId: string
  name: string
  /** Defaults to the creator's role and may never exceed it. */
  role?: Role
  expiresAt?: Date
  appName?: string
}

/** True when an actor may see and revoke a key: admins and owners see all of the organization's keys, others their own. */
export function mayManageKey(actor: Actor | undefined, key: { ownerUserId: string }): boolean {
  return !actor || roleAtLeast(actor.role, 'admin') || key.ownerUserId === actor.userId
}

/**
 * Creates an API key. Its role defaults to and never exceeds its creator's (the actor's effective
 * role and the owner's membership role); a developer creates keys only for their granted projects.
 * The secret is returned once; only its hash is stored. Emits apiKey.created.
 */
export async function createApiKey(ctx: IdentityContext, input: CreateApiKeyInput, actor?: Actor): Promise<CreatedApiKey> {
  if (actor && actor.userId !== input.ownerUserId) throw forbidden('An API key is owned by the member who creates it')
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw invalidField('expiresAt', 'must be in the future')
  return transaction(ctx, async (em) => {
    const project = await rows(em, 'select id from core_project where id = ? and organization_id = ? and deleted_at is null', [input.projectId, input.organizationId])
    if (project.length === 0) throw notFound('Project')
    const [owner] = await rows<{ id: string; role: Role }>(em, 'select id, role from core_membership where organization_id = ? and user_id = ?', [input.organizationId, input.ownerUserId])
    if (!owner) throw notFound('Member')
    const ceiling = actor ? minRole(actor.role, owner.role) : owner.role
    const role = input.role ?? ceiling
    if (!roleAtLeast(ceiling, role)) throw roleEscalation(`A key's role cannot exceed its creator's (${ceiling})`, 'role')
    if (ceiling === 'developer') {
      const grants = actor?.projectIds ?? (await rows<{ project_id: string }>(em, 'select project_id from core_membership_project where membership_id = ?', [owner.id])).map((g) => g.project_id)
      if (!grants.includes(input.projectId)) throw notFound('Project')
    }
    const key = generateApiKey()
    const [row] = await rows<ApiKeyRow>(
      em,
      `insert into core_api_key (id, organization_id, project_id, owner_user_id, name, prefix, secret_hash, role, app_name, expires_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::timestamptz) returning ${COLUMNS}`,
      [randomUUID(), input.organizationId, input.projectId, input.ownerUserId, input.name, key.prefix, key.hash, role, input.appName ?? null, input.expiresAt?.toISOString() ?? null],
    )
    await ctx.events.emit(
      'apiKey.created',
      { organizationId: row.organization_id, apiKeyId: row.id, projectId: row.project_id, prefix: row.prefix, ownerUserId: row.owner_user_id },
      eventMeta(actor, row.organization_id, em),
    )
    return { ...view(row), secret: key.secret }
  })
}

/** An organization's API keys, newest first; `ownerUserId` restricts them to one member's. */
export async function listApiKeys(
  ctx: IdentityContext,
  organizationId: string,
  filter: { ownerUserId?: string; projectId?: string; limit?: number; offset?: number } = {},
): Promise<ApiKeyView[]> {
  const where = ['organization_id = ?']
  const params: unknown[] = [organizationId]
  if (filter.ownerUserId) {
    where.push('owner_user_id = ?')
    params.push(filter.ownerUserId)
  }
  if (filter.projectId) {
    where.push('project_id = ?')
    params.push(filter.projectId)
  }
  params.push(filter.limit ?? 100, filter.offset ?? 0)
  const list = await query<ApiKeyRow>(ctx, `select ${COLUMNS} from core_api_key where ${where.join(' and ')} order by created_at desc, id limit ? offset ?`, params)
  return list.map(view)
}

/** A key by id, or undefined (also when an actor may not see it). */
export async function getApiKey(ctx: IdentityContext, id: string, actor?: Actor): Promise<ApiKeyView | undefined> {
  const [row] = await query<ApiKeyRow>(ctx, `select ${COLUMNS} from core_api_key where id = ?`, [id])
  if (!row) return undefined
  const key = view(row)
  return mayManageKey(actor, key) ? key : undefined
}

/** Revokes a key (idempotent). It stops authenticating at once here and within the key cache TTL elsewhere. Emits apiKey.revoked. */
export async function revokeApiKey(ctx: IdentityContext, id: string, actor?: Actor): Promise<ApiKeyView> {
  const key = await transaction(ctx, async (em) => {
    const [row] = await rows<ApiKeyRow>(em, `select ${COLUMNS} from core_api_key where id = ? for update`, [id])
    if (!row || !mayManageKey(actor, view(row))) throw notFound('API key')
    if (row.revoked_at) return view(row)
    const [after] = await rows<ApiKeyRow>(em, `update core_api_key set revoked_at = now() where id = ? returning ${COLUMNS}`, [id])
    await ctx.events.emit('apiKey.revoked', { organizationId: after.organization_id, apiKeyId: id }, eventMeta(actor, after.organization_id, em))
    return view(after)
  })
  ctx.apiKeys.invalidate()
  return key
}
