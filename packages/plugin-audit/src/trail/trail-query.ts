import { decodeCursor, encodeCursor } from '../cursor.js'
import { type AuditEntry, type AuditEntryRow, ENTRY_COLUMNS, entryFromRow } from './audit-entry.js'
import type { Em } from './trail-store.js'

/** Filters of the trail's list and export. */
export interface TrailFilter {
  /** Omitted only for platform administrators: every organization. */
  organizationId?: string
  from?: Date
  to?: Date
  actorType?: string
  actorId?: string
  /** An action ("api_key.created") or a prefix pattern ("api_key.*"). */
  action?: string
  resourceType?: string
  resourceId?: string
}

/** A page of entries and the cursor of the next one. */
export interface EntryPage {
  data: AuditEntry[]
  nextCursor: string | null
}

function where(filter: TrailFilter): { sql: string; params: unknown[] } {
  const w: string[] = []
  const params: unknown[] = []
  const add = (clause: string, ...values: unknown[]) => {
    w.push(clause)
    params.push(...values)
  }
  if (filter.organizationId) add('organization_id = ?', filter.organizationId)
  if (filter.from) add('occurred_at >= ?::timestamptz', filter.from.toISOString())
  if (filter.to) add('occurred_at < ?::timestamptz', filter.to.toISOString())
  if (filter.actorType) add('actor_type = ?', filter.actorType)
  if (filter.actorId) add('actor_id = ?', filter.actorId)
  if (filter.action?.endsWith('.*')) add('action like ?', `${filter.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`)
  else if (filter.action) add('action = ?', filter.action)
  if (filter.resourceType) add('resource_type = ?', filter.resourceType)
  if (filter.resourceId) add('resource_id = ?', filter.resourceId)
  return { sql: w.length > 0 ? w.join(' and ') : 'true', params }
}

/**
 * A page of the trail, newest first. Within one organization the order is the chain's (sequence
 * number); across organizations it is by time. The cursor is a keyset position, so pages stay
 * consistent while entries are appended.
 */
export async function listEntries(em: Em, filter: TrailFilter, limit: number, cursor?: string): Promise<EntryPage> {
  const w = where(filter)
  let sql: string
  const params = [...w.params]
  if (filter.organizationId) {
    const c = decodeCursor<{ s: number }>(cursor, ['s'])
    if (c) params.push(c.s)
    sql = `select ${ENTRY_COLUMNS} from audit_entry where ${w.sql}${c ? ' and seq < ?' : ''} order by seq desc limit ?`
  } else {
    const c = decodeCursor<{ t: string; i: string }>(cursor, ['t', 'i'])
    if (c) params.push(c.t, c.i)
    sql = `select ${ENTRY_COLUMNS} from audit_entry where ${w.sql}${c ? ' and (occurred_at, id) < (?::timestamptz, ?::uuid)' : ''} order by occurred_at desc, id desc limit ?`
  }
  params.push(limit + 1)
  const rows = (await em.execute<AuditEntryRow[]>(sql, params, 'all')).map(entryFromRow)
  const data = rows.slice(0, limit)
  const last = data[data.length - 1]
  const more = rows.length > limit && last
  const nextCursor = more ? (filter.organizationId ? encodeCursor({ s: last.seq }) : encodeCursor({ t: last.occurredAt.toISOString(), i: last.id })) : null
  return { data, nextCursor }
}

/**
 * Every entry matching the filter in chain order (organization, then sequence number), read in
 * keyset batches: an export of millions of entries holds one batch in memory at a time, and the
 * next batch is read only when the consumer asks for more. Batches stay small because a batch's
 * rows are decoded in one stretch of the event loop, beside live traffic.
 */
export async function* streamEntries(em: Em, filter: TrailFilter, batchSize = 1000): AsyncGenerator<AuditEntry[]> {
  const w = where(filter)
  let after: { o: string; s: number } | undefined
  for (;;) {
    const params = [...w.params]
    if (after) params.push(after.o, after.s)
    params.push(batchSize)
    const rows = await em.execute<AuditEntryRow[]>(
      `select ${ENTRY_COLUMNS} from audit_entry where ${w.sql}${after ? ' and (organization_id, seq) > (?::uuid, ?::bigint)' : ''} order by organization_id, seq limit ?`,
      params,
      'all',
    )
    yield rows.map(entryFromRow)
    if (rows.length < batchSize) return
    const last = rows[rows.length - 1]
    after = { o: last.organization_id, s: Number(last.seq) }
  }
}
