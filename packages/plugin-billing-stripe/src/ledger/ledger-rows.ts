import type { LedgerEntry, LedgerTxType } from './ledger-types.js'

/** A billing_ledger_entry row as the drivers return it (numeric columns as strings). */
export interface LedgerEntryRow {
  id: string
  seq: string | number
  account_id: string
  organization_id: string
  user_id: string | null
  type: string
  amount: string | number
  balance_after: string | number
  idempotency_key: string
  description: string | null
  reference_kind: string | null
  reference_id: string | null
  actor_type: string | null
  actor_id: string | null
  reverses_entry_id: string | null
  metadata: unknown
  created_at: Date | string
}

/** An exact bigint from a numeric column (strings from pg, numbers from small values). */
export function big(value: string | number | bigint | null | undefined): bigint {
  if (value === null || value === undefined) return 0n
  return typeof value === 'bigint' ? value : BigInt(typeof value === 'number' ? Math.trunc(value) : value.split('.')[0])
}

/** A stored row as a LedgerEntry. */
export function entryFromRow(r: LedgerEntryRow): LedgerEntry {
  const metadata = typeof r.metadata === 'string' ? JSON.parse(r.metadata) : r.metadata
  // Batch inserts read back only some columns: an absent one is treated as null.
  r.description ??= null
  r.reference_kind ??= null
  r.reference_id ??= null
  r.actor_type ??= null
  r.actor_id ??= null
  r.reverses_entry_id ??= null
  return {
    id: r.id,
    accountId: r.account_id,
    organizationId: r.organization_id,
    ...(r.user_id ? { userId: r.user_id } : {}),
    type: r.type as LedgerTxType,
    amount: big(r.amount),
    balanceAfter: big(r.balance_after),
    idempotencyKey: r.idempotency_key,
    ...(r.description !== null ? { description: r.description } : {}),
    ...(r.reference_kind !== null && r.reference_id !== null ? { reference: { kind: r.reference_kind, id: r.reference_id } } : {}),
    ...(r.actor_type !== null && r.actor_id !== null ? { actor: { type: r.actor_type as 'user' | 'api_key' | 'system', id: r.actor_id } } : {}),
    ...(r.reverses_entry_id !== null ? { reversesEntryId: r.reverses_entry_id } : {}),
    ...(metadata ? { metadata } : {}),
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
  }
}
