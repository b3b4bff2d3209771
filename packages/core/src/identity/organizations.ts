import { randomUUID } from 'node:crypto'
import type { Role } from '../context/principal.js'
import { type Em, eventMeta, type IdentityContext, query, rows, toDate, transaction } from './identity-context.js'
import { forbidden, notFound } from './identity-errors.js'
import type { Actor, OrganizationView } from './identity-types.js'
import { slugify, suffixedSlug } from './slug.js'

/** Name of the project every new organization starts with, so keys can be created at once. */
export const DEFAULT_PROJECT_NAME = 'Default'

/** A new organization and the project it starts with. */
export interface CreatedOrganization {
  id: string
  name: string
  slug: string
  personal: boolean
  defaultProjectId: string
}

interface OrganizationRow {
  id: string
  name: string
  slug: string
  personal: boolean
  created_at: Date | string
  role?: Role
}

function view(r: OrganizationRow): OrganizationView {
  return { id: r.id, name: r.name, slug: r.slug, personal: r.personal, createdAt: toDate(r.created_at), ...(r.role ? { role: r.role } : {}) }
}

/**
 * Inserts an organization in a transaction: a unique slug (suffixed when taken), the owner's
 * membership and a default project; emits organization.created, member.joined and project.created.
 */
export async function insertOrganization(
  ctx: IdentityContext,
  em: Em,
  input: { name: string; ownerUserId: string; personal: boolean; slugFrom?: string },
  actor: Actor | undefined,
): Promise<CreatedOrganization> {
  const id = randomUUID()
  const base = slugify(input.slugFrom ?? input.name)
  let slug = base
  for (let attempt = 0; ; attempt++) {
    const inserted = await rows(em, 'insert into core_organization (id, name, slug, personal) values (?, ?, ?, ?) on conflict (slug) do nothing returning id', [id, input.name, slug, input.personal])
    if (inserted.length === 1) break
    if (attempt >= 8) throw new Error('could not find a free organization slug')
    slug = suffixedSlug(base)
  }
  await rows(em, "insert into core_membership (id, organization_id, user_id, role) values (?, ?, ?, 'owner') returning id", [randomUUID(), id, input.ownerUserId])
  const defaultProjectId = randomUUID()
  await rows(em, 'insert into core_project (id, organization_id, name) values (?, ?, ?) returning id', [defaultProjectId, id, DEFAULT_PROJECT_NAME])
  const meta = eventMeta(actor, id, em)
  await ctx.events.emit('organization.created', { organizationId: id, name: input.name, personal: input.personal }, meta)
  await ctx.events.emit('member.joined', { organizationId: id, userId: input.ownerUserId, role: 'owner' }, meta)
  await ctx.events.emit('project.created', { organizationId: id, projectId: defaultProjectId, name: DEFAULT_PROJECT_NAME }, meta)
  return { id, name: input.name, slug, personal: input.personal, defaultProjectId }
}

/** Creates an organization owned by a user. With an actor, the owner must be the actor. */
export async function createOrganization(ctx: IdentityContext, input: { name: string; ownerUserId: string }, actor?: Actor): Promise<CreatedOrganization> {
  if (actor && actor.userId !== input.ownerUserId) throw forbidden('An organization is owned by the user who creates it')
  return transaction(ctx, async (em) => {
    const owner = await rows(em, 'select id from core_user where id = ? and disabled_at is null', [input.ownerUserId])
    if (owner.length === 0) throw notFound('User')
    return insertOrganization(ctx, em, { name: input.name, ownerUserId: input.ownerUserId, personal: false }, actor)
  })
}

/** The organizations a user belongs to, with their role in each. */
export async function listOrganizationsForUser(ctx: IdentityContext, userId: string): Promise<OrganizationView[]> {
  const list = await query<OrganizationRow>(
    ctx,
    `select o.id, o.name, o.slug, o.personal, o.created_at, m.role
       from core_membership m join core_organization o on o.id = m.organization_id
      where m.user_id = ? order by o.personal desc, o.name, o.id`,
    [userId],
  )
  return list.map(view)
}

/** An organization by id. */
export async function getOrganization(ctx: IdentityContext, id: string): Promise<OrganizationView | undefined> {
  const [row] = await query<OrganizationRow>(ctx, 'select id, name, slug, personal, created_at from core_organization where id = ?', [id])
  return row ? view(row) : undefined
}

/** Renames an organization (its slug stays, links keep working); emits organization.updated. */
export async function updateOrganization(ctx: IdentityContext, id: string, patch: { name?: string }, actor?: Actor): Promise<OrganizationView> {
  return transaction(ctx, async (em) => {
    const [before] = await rows<OrganizationRow>(em, 'select id, name, slug, personal, created_at from core_organization where id = ? for update', [id])
    if (!before) throw notFound('Organization')
    if (patch.name === undefined || patch.name === before.name) return view(before)
    const [after] = await rows<OrganizationRow>(em, 'update core_organization set name = ? where id = ? returning id, name, slug, personal, created_at', [patch.name, id])
    await ctx.events.emit('organization.updated', { organizationId: id, before: { name: before.name }, after: { name: after.name } }, eventMeta(actor, id, em))
    return view(after)
  })
}
