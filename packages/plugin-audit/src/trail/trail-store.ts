import { randomUUID } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { TxEntityManager } from '@tollgate/core'
import { type AuditEntry, type AuditEntryRow, ENTRY_COLUMNS, entryFromRow } from './audit-entry.js'
import { ChainChecker, type VerifyReport } from './chain-checker.js'
import { type Checkpoint, checkpointSignatureValid, signCheckpoint } from './checkpoint-signer.js'
import { TimeSlice } from '../time-slice.js'

/** An EntityManager to read with (a fork, or a transaction's). */
export type Em = TxEntityManager

interface CheckpointRow {
  organization_id: string
  seq: string | number
  hash: string
  signed_at: Date | string
  key_id: string
  signature: string
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString()

function checkpointFromRow(r: CheckpointRow): Checkpoint {
  return { version: 1, organizationId: r.organization_id, seq: Number(r.seq), hash: r.hash, signedAt: iso(r.signed_at), keyId: r.key_id, signature: r.signature }
}

/** One organization's entries after `afterSeq`, in sequence order. */
export async function readChain(em: Em, organizationId: string, afterSeq: number, limit: number): Promise<AuditEntry[]> {
  const rows = await em.execute<AuditEntryRow[]>(`select ${ENTRY_COLUMNS} from audit_entry where organization_id = ? and seq > ? order by seq limit ?`, [organizationId, afterSeq, limit], 'all')
  return rows.map(entryFromRow)
}

/** The organization's chain head (what appends last wrote), if any. */
export async function chainHead(em: Em, organizationId: string): Promise<{ seq: number; hash: string } | undefined> {
  const [row] = await em.execute<{ seq: string | number; hash: string }[]>('select seq, hash from audit_chain_head where organization_id = ?', [organizationId], 'all')
  return row && Number(row.seq) > 0 ? { seq: Number(row.seq), hash: row.hash } : undefined
}

/** Every organization that has a chain. */
export async function chainOrganizations(em: Em): Promise<string[]> {
  const rows = await em.execute<{ organization_id: string }[]>('select organization_id from audit_chain_head union select distinct organization_id from audit_entry order by 1', [], 'all')
  return rows.map((r) => r.organization_id)
}

/** Stored checkpoints of an organization, oldest first. */
export async function listCheckpoints(em: Em, organizationId: string): Promise<Checkpoint[]> {
  const rows = await em.execute<CheckpointRow[]>('select organization_id, seq, hash, signed_at, key_id, signature from audit_checkpoint where organization_id = ? order by seq', [organizationId], 'all')
  return rows.map(checkpointFromRow)
}

/**
 * Signs the organization's current head and stores the checkpoint (unless one already covers
 * that entry). Returns the new checkpoint, or the latest existing one when nothing was appended
 * since, or undefined when the chain is empty.
 */
export async function checkpointHead(em: Em, organizationId: string, privateKey: KeyObject): Promise<Checkpoint | undefined> {
  const head = await chainHead(em, organizationId)
  if (!head) return undefined
  const [last] = await em.execute<CheckpointRow[]>(
    'select organization_id, seq, hash, signed_at, key_id, signature from audit_checkpoint where organization_id = ? order by seq desc limit 1',
    [organizationId],
    'all',
  )
  if (last && Number(last.seq) >= head.seq) return checkpointFromRow(last)
  const c = signCheckpoint(privateKey, { organizationId, ...head })
  await em.execute(
    'insert into audit_checkpoint (id, organization_id, seq, hash, signed_at, key_id, signature) values (?, ?, ?, ?, ?::timestamptz, ?, ?) on conflict (organization_id, seq) do nothing',
    [randomUUID(), c.organizationId, c.seq, c.hash, c.signedAt, c.keyId, c.signature],
    'all',
  )
  return c
}

/** Organizations whose head has moved past their latest checkpoint. */
export async function organizationsNeedingCheckpoint(em: Em, limit: number): Promise<string[]> {
  const rows = await em.execute<{ organization_id: string }[]>(
    `select h.organization_id from audit_chain_head h
      where h.seq > coalesce((select max(c.seq) from audit_checkpoint c where c.organization_id = h.organization_id), 0)
      order by h.organization_id limit ?`,
    [limit],
    'all',
  )
  return rows.map((r) => r.organization_id)
}

/** What to verify against, besides the chain itself. */
export interface VerifyOptions {
  /** Public keys (by key id) that checkpoints may be signed with. */
  publicKeys: ReadonlyMap<string, KeyObject>
  /** Checkpoints kept outside the database (already signature-checked by the caller). */
  checkpoints?: readonly Checkpoint[]
  /** Hashes by sequence number of a trusted exported copy. */
  reference?: ReadonlyMap<number, string>
  /** Entries read per query (default 1000: a batch's rows are decoded in one stretch of the event loop, ~5 ms per 1000). */
  batchSize?: number
}

/**
 * Verifies one organization's chain, reading it in batches (memory stays flat whatever its
 * length). Stored checkpoints whose signature fails count as tampering; exported ones are
 * compared too, so a chain rewritten and re-checkpointed in the database is still caught.
 */
export async function verifyChain(em: Em, organizationId: string, options: VerifyOptions): Promise<VerifyReport> {
  const stored = await listCheckpoints(em, organizationId)
  const valid = stored.filter((c) => checkpointSignatureValid(c, options.publicKeys))
  const checker = new ChainChecker(organizationId, { checkpoints: [...valid, ...(options.checkpoints ?? []).filter((c) => c.organizationId === organizationId)], reference: options.reference })
  for (const c of stored) {
    if (!valid.includes(c)) checker.fail({ seq: c.seq, entryId: null, reason: 'checkpoint_signature_invalid', message: `the stored checkpoint at entry ${c.seq} has an invalid signature or an unknown key ${c.keyId}` })
  }
  const batch = options.batchSize ?? 1000
  // Hashing a batch takes tens of milliseconds: the walk yields every ~2 ms so a verification
  // running beside live traffic never holds the event loop for long.
  const slice = new TimeSlice()
  let after = 0
  for (;;) {
    const rows = await em.execute<AuditEntryRow[]>(`select ${ENTRY_COLUMNS} from audit_entry where organization_id = ? and seq > ? order by seq limit ?`, [organizationId, after, batch], 'all')
    let stopped = false
    for (const row of rows) {
      const entry = entryFromRow(row)
      if (!checker.push(entry)) {
        stopped = true
        break
      }
      after = entry.seq
      if (slice.due()) await slice.pause()
    }
    if (stopped || rows.length < batch) break
  }
  return checker.finish(await chainHead(em, organizationId))
}
