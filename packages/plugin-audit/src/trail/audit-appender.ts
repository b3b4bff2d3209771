import { randomUUID } from 'node:crypto'
import type { TxEntityManager } from '@tollgate/core'
import type { AuditActor, AuditEntry } from './audit-entry.js'
import { normalizeJson } from './canonical-json.js'
import { GENESIS_HASH, entryHash } from './entry-hash.js'

/** What a caller records; the appender adds id, sequence and hashes. */
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'seq' | 'prevHash' | 'hash'>

/**
 * Lock the organization's chain head and read it in one round trip: the upsert takes the row
 * lock (creating the head on first use), and under READ COMMITTED a waiter re-reads the row its
 * predecessor committed, so every append sees the true head.
 */
const LOCK_HEAD = `insert into audit_chain_head (organization_id, seq, hash) values (?, 0, ?)
  on conflict (organization_id) do update set organization_id = excluded.organization_id
  returning seq, hash`

/** Insert the entry and move the head, in a second round trip. */
const INSERT_AND_ADVANCE = `with e as (
    insert into audit_entry (id, organization_id, seq, occurred_at, event, actor_type, actor_id, action, resource_type, resource_id, diff, details, ip, user_agent, prev_hash, hash)
    values (?, ?, ?, ?::timestamptz, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?)
  )
  update audit_chain_head set seq = ?, hash = ?, updated_at = now() where organization_id = ?`

/**
 * Appends an entry to its organization's chain inside the caller's transaction. The chain head
 * row stays locked until that transaction ends, so appends of one organization are serialised
 * (gapless sequence, one successor per entry) and a rolled-back change takes its entry with it.
 * Appends of different organizations do not wait for each other.
 */
export async function appendEntry(em: TxEntityManager, input: NewAuditEntry): Promise<AuditEntry> {
  const [head] = await em.execute<{ seq: string | number; hash: string }[]>(LOCK_HEAD, [input.organizationId, GENESIS_HASH], 'all')
  // Values are normalised before hashing and storing, so what is read back hashes identically.
  const diff = normalizeJson(input.diff) as AuditEntry['diff']
  const details = normalizeJson(input.details) as AuditEntry['details']
  const entry: Omit<AuditEntry, 'hash'> = {
    id: randomUUID(),
    organizationId: input.organizationId,
    seq: Number(head.seq) + 1,
    occurredAt: new Date(input.occurredAt.getTime()),
    event: normalizeJson(input.event) as string,
    actor: normalizeJson(input.actor) as AuditActor,
    action: normalizeJson(input.action) as string,
    resourceType: normalizeJson(input.resourceType) as string,
    resourceId: (normalizeJson(input.resourceId) as string | null) || null,
    diff,
    details,
    ip: (normalizeJson(input.ip) as string | null) || null,
    userAgent: (normalizeJson(input.userAgent) as string | null) || null,
    prevHash: head.hash,
  }
  const hash = entryHash(entry)
  await em.execute(
    INSERT_AND_ADVANCE,
    [
      entry.id,
      entry.organizationId,
      entry.seq,
      entry.occurredAt.toISOString(),
      entry.event,
      entry.actor.type,
      entry.actor.id,
      entry.action,
      entry.resourceType,
      entry.resourceId,
      diff === null ? null : JSON.stringify(diff),
      details === null ? null : JSON.stringify(details),
      entry.ip,
      entry.userAgent,
      entry.prevHash,
      hash,
      entry.seq,
      hash,
      entry.organizationId,
    ],
    'run',
  )
  return { ...entry, hash }
}
