import type { Database, EventMeta, TxEntityManager } from '@tollgate/core'
import type { AuditActor } from './audit-entry.js'
import { appendEntry, type NewAuditEntry } from './audit-appender.js'
import { PLATFORM_CHAIN } from './entry-hash.js'
import { type AuditEventMapping, describeEvent } from './event-mapping.js'
import { maskSecrets } from './mask-secrets.js'

const isUuid = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)

/** Turns a domain event into an audit entry: organization, actor, action, resource, masked diff and details. */
export function entryFromEvent(name: string, payload: unknown, meta: EventMeta, mappings: readonly AuditEventMapping[], maskKeys: readonly string[]): NewAuditEntry {
  const p = payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : { value: payload }
  const { action, resourceType, resourceId } = describeEvent(name, p, mappings)
  const { before, after, ...rest } = p
  const hasDiff = before !== undefined || after !== undefined
  const org = meta.organizationId ?? p.organizationId
  const actor: AuditActor = meta.actor ?? { type: 'system', id: 'system' }
  return {
    organizationId: isUuid(org) ? org : PLATFORM_CHAIN,
    occurredAt: meta.at ?? new Date(),
    event: name,
    actor,
    action,
    resourceType,
    resourceId,
    diff: hasDiff ? (maskSecrets({ before, after }, maskKeys) as NewAuditEntry['diff']) : null,
    details: Object.keys(rest).length > 0 ? (maskSecrets(rest, maskKeys) as Record<string, unknown>) : null,
    ip: meta.ip ?? null,
    userAgent: meta.userAgent ?? null,
  }
}

/**
 * Records an entry in the emitter's transaction when the event carries one (`meta.em`), so the
 * entry commits or rolls back with the change; otherwise in a transaction of its own.
 */
export async function recordInTransaction(db: Database, meta: EventMeta, entry: NewAuditEntry): Promise<void> {
  const em = meta.em as TxEntityManager | undefined
  if (em && typeof em.execute === 'function') {
    await appendEntry(em, entry)
    return
  }
  await db.orm.em.fork().transactional((tx) => appendEntry(tx, entry))
}
