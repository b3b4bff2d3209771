import { randomUUID } from 'node:crypto'
import { eventMeta, type IdentityContext, query, rows, toDate, transaction } from './identity-context.js'
import { notFound } from './identity-errors.js'
import type { Actor, ProviderKeyView } from './identity-types.js'
import { providerKeyAad, secretHint } from './provider-key-cipher.js'

interface ProviderKeyRow {
  id: string
  organization_id: string
  project_id: string
  provider: string
  label: string | null
  key_hint: string
  created_by: string
  created_at: Date | string
}

const COLUMNS = 'id, organization_id, project_id, provider, label, key_hint, created_by, created_at'

function view(r: ProviderKeyRow): ProviderKeyView {
  return { id: r.id, projectId: r.project_id, provider: r.provider, label: r.label, hint: r.key_hint, createdBy: r.created_by, createdAt: toDate(r.created_at) }
}

/** What storing a project's own provider key needs. */
export interface SetProviderKeyInput {
  projectId: string
  provider: string
  /** The provider secret; stored encrypted, shown again only as a hint. */
  key: string
  label?: string
  /** The user storing it. */
  createdBy: string
}

/** Stores (or replaces) a project's key for a provider, encrypted with AES-256-GCM. Emits providerKey.created. */
export async function setProviderKey(ctx: IdentityContext, input: SetProviderKeyInput, actor?: Actor): Promise<ProviderKeyView> {
  const stored = await transaction(ctx, async (em) => {
    const [project] = await rows<{ organization_id: string }>(em, 'select organization_id from core_project where id = ? and deleted_at is null', [input.projectId])
    if (!project) throw notFound('Project')
    const ciphertext = ctx.cipher.encrypt(input.key, providerKeyAad(input.projectId, input.provider))
    // xmax is set on a row the upsert updated: the key replaced an earlier one (a rotation).
    const [row] = await rows<ProviderKeyRow & { replaced: boolean }>(
      em,
      `insert into core_provider_key (id, organization_id, project_id, provider, label, ciphertext, key_hint, created_by) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (project_id, provider) do update set label = excluded.label, ciphertext = excluded.ciphertext, key_hint = excluded.key_hint,
         created_by = excluded.created_by, created_at = now()
       returning ${COLUMNS}, (xmax <> 0) as replaced`,
      [randomUUID(), project.organization_id, input.projectId, input.provider, input.label ?? null, ciphertext, secretHint(input.key), input.createdBy],
    )
    await ctx.events.emit(
      'providerKey.created',
      { organizationId: row.organization_id, projectId: row.project_id, providerKeyId: row.id, provider: row.provider, replaced: row.replaced === true },
      eventMeta(actor, row.organization_id, em),
    )
    return view(row)
  })
  ctx.providerKeys.invalidate(input.projectId)
  return stored
}

/** A project's provider keys, hints only. */
export async function listProviderKeys(ctx: IdentityContext, projectId: string): Promise<ProviderKeyView[]> {
  const list = await query<ProviderKeyRow>(ctx, `select ${COLUMNS} from core_provider_key where project_id = ? order by provider`, [projectId])
  return list.map(view)
}

/** Deletes a project's key for a provider (requests fall back to the gateway's own key). Emits providerKey.deleted. */
export async function deleteProviderKey(ctx: IdentityContext, projectId: string, provider: string, actor?: Actor): Promise<void> {
  await transaction(ctx, async (em) => {
    const [row] = await rows<ProviderKeyRow>(em, `delete from core_provider_key where project_id = ? and provider = ? returning ${COLUMNS}`, [projectId, provider])
    if (!row) throw notFound('Provider key')
    await ctx.events.emit(
      'providerKey.deleted',
      { organizationId: row.organization_id, projectId, providerKeyId: row.id, provider },
      eventMeta(actor, row.organization_id, em),
    )
  })
  ctx.providerKeys.invalidate(projectId)
}

/**
 * Loads and decrypts every provider key of a project (the cache's loader). A key that does not
 * decrypt (wrong encryption key, tampered row) fails the load rather than silently falling back
 * to the gateway's own key.
 */
export async function loadProjectProviderKeys(ctx: IdentityContext, projectId: string): Promise<Map<string, string>> {
  const list = await query<{ provider: string; ciphertext: string }>(ctx, 'select provider, ciphertext from core_provider_key where project_id = ?', [projectId])
  const keys = new Map<string, string>()
  for (const row of list) {
    try {
      keys.set(row.provider, ctx.cipher.decrypt(row.ciphertext, providerKeyAad(projectId, row.provider)))
    } catch (err) {
      ctx.log.error({ err, projectId, provider: row.provider }, 'a provider key does not decrypt (wrong encryption key or tampered row)')
      throw new Error(`the ${row.provider} key of project ${projectId} does not decrypt`)
    }
  }
  return keys
}
