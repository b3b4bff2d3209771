import type { RequestCharge } from '../pricing/request-charge.js'
/**
 * The credit ledger's contract, shared by the metering/budget side and the payments side of the
 * billing plugin. Amounts are picodollars (bigint, 1 USD = 10^12), the unit core prices in; a
 * positive amount credits the account, a negative one debits it. Never a float.
 */

/** Every kind of ledger transaction. A correction is a reversal entry of the same type, never an update. */
export const LEDGER_TX_TYPES = [
  'purchase',
  'bonus',
  'usage_debit',
  'adjustment',
  'refund',
  'gift',
  'referral',
  'promotion',
  'auto_topup',
] as const
export type LedgerTxType = (typeof LEDGER_TX_TYPES)[number]

/** Which credit account: an organization's, or a user's personal developer-plan account. */
export interface LedgerAccountRef {
  organizationId: string
  /** Set for a personal developer-plan account (seed 000/003); absent for the organization's account. */
  userId?: string
}

/** Who caused an entry (for audit and history). */
export interface LedgerActor {
  type: 'user' | 'api_key' | 'system'
  id: string
}

/** An entry to append. */
export interface PostLedgerEntry {
  account: LedgerAccountRef
  type: LedgerTxType
  /** Signed picodollars: > 0 credits, < 0 debits. Zero is refused. */
  amount: bigint
  /** Unique per account; posting the same key twice returns the first entry with `duplicate: true`. */
  idempotencyKey: string
  description?: string
  /** What the entry is about, e.g. { kind: 'stripe_payment_intent', id: 'pi_…' } or { kind: 'request', id }. */
  reference?: { kind: string; id: string }
  actor?: LedgerActor
  /** The entry this one reverses (corrections), if any. */
  reversesEntryId?: string
  /** Small scalar metadata (never prompt content). */
  metadata?: Record<string, string | number | boolean | null>
}

/** A stored entry. */
export interface LedgerEntry {
  id: string
  accountId: string
  organizationId: string
  userId?: string
  type: LedgerTxType
  amount: bigint
  /** The account's balance right after this entry. */
  balanceAfter: bigint
  idempotencyKey: string
  description?: string
  reference?: { kind: string; id: string }
  actor?: LedgerActor
  reversesEntryId?: string
  metadata?: Record<string, string | number | boolean | null>
  createdAt: Date
}

/** The result of a post. */
export interface PostResult {
  entry: LedgerEntry
  /** True when the idempotency key had been used already; nothing new was written. */
  duplicate: boolean
}

/** Result of the ledger invariant check. */
export interface LedgerVerification {
  ok: boolean
  accountsChecked: number
  /** Accounts whose stored balance differs from the sum of their entries. */
  mismatches: { accountId: string; organizationId: string; userId?: string; balance: bigint; sum: bigint }[]
  /** Accounts with entries whose `balanceAfter` differs from the running sum in posting order (count per account). */
  brokenEntries?: { accountId: string; entries: number }[]
}

/**
 * The ledger service, provided under `billingLedgerRef` ("billing.ledger"). `em` is an optional
 * MikroORM EntityManager of an open transaction: when given, the write joins that transaction
 * (so a webhook's bookkeeping and its ledger entry commit together).
 */
export interface BillingLedger {
  post(entry: PostLedgerEntry, em?: unknown): Promise<PostResult>
  /** Appends the reversal of an entry (same type, negated amount). */
  reverse(entryId: string, idempotencyKey: string, reason: string, actor?: LedgerActor, em?: unknown): Promise<PostResult>
  /** The stored balance (picodollars). An account that has never been written has balance 0. */
  balance(account: LedgerAccountRef, em?: unknown): Promise<bigint>
  /** Entries newest first, with filters and cursor pagination. */
  history(
    account: LedgerAccountRef,
    query?: { types?: LedgerTxType[]; from?: Date; to?: Date; limit?: number; cursor?: string },
  ): Promise<{ entries: LedgerEntry[]; nextCursor?: string }>
  /** Checks balance == sum(entries) for one account or all. */
  verify(account?: LedgerAccountRef): Promise<LedgerVerification>
  /** How a proxied request was settled (its cost and the batch debit that charged it), or undefined while it is not. */
  settledRequest(requestId: string): Promise<RequestSettlement | undefined>
}

/**
 * One settled request. Request charges reach the ledger as one usage_debit per account per
 * settlement batch (`entryId`, reference kind `settlement`); this is the per-request detail.
 */
export interface RequestSettlement extends Pick<RequestCharge, 'requestId' | 'cost' | 'marketCost' | 'model' | 'inputTokens' | 'outputTokens' | 'cachedReadTokens' | 'cacheWriteTokens' | 'streaming' | 'estimated'> {
  /** The usage_debit entry that includes this request's cost. */
  entryId: string
  accountId: string
  /** marketCost − cost, never negative. */
  savings: bigint
  settledAt: Date
}
