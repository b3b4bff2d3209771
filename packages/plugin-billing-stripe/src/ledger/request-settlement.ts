import { randomUUID } from 'node:crypto'
import type { TxEntityManager } from '@tollgate/core'
import { type RequestCharge, savingsOf } from '../pricing/request-charge.js'
import { addToCounters, type CounterTarget, type CounterUpdate } from './charge-posting.js'
import type { LedgerAccountRef, LedgerEntry } from './ledger-types.js'
import { sql } from './sql-exec.js'
import type { EntryDraft, SqlLedger } from './sql-ledger.js'

/** A request's charge ready to settle: the account it is billed to and the budget counters it adds to. */
export interface RequestPosting {
  charge: RequestCharge
  account: { ref: LedgerAccountRef; id: string }
  counters: CounterTarget[]
}

/** The reference kind of a batch usage debit (its id is the batch id). */
export const SETTLEMENT_REFERENCE = 'settlement'

/**
 * One detail row per request as unnest() arrays: bound parameters of plain text, parsed by the
 * database without JSON, in request-id order (so concurrent writers meet on the primary key in
 * the same order and never deadlock).
 */
const INSERT_DETAIL = `insert into billing_settled_request (request_id, entry_id, account_id, cost, market_cost, model, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, streaming, estimated)
  select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::numeric[], $5::numeric[], $6::text[], $7::int[], $8::int[], $9::int[], $10::int[], $11::bool[], $12::bool[])
   order by 1
  on conflict (request_id) do nothing
  returning request_id`

/** Sums of one account's freshly settled requests. */
interface AccountBatch {
  entryId: string
  account: { ref: LedgerAccountRef; id: string }
  requests: number
  cost: bigint
  marketCost: bigint
  savings: bigint
  inputTokens: number
  outputTokens: number
  cachedReadTokens: number
  cacheWriteTokens: number
}

/**
 * Settles request charges in the caller's transaction, exactly once per request, with ONE
 * usage_debit per account: (1) insert every request's detail row — the primary key skips
 * requests settled before (by another instance, the usage-event worker, or an earlier attempt of
 * this batch) and makes a concurrent writer of the same request wait for this one; (2) post, per
 * account, one debit of the sum of the rows accepted, keyed by the batch id (the ledger insert
 * locks the accounts in id order, as every ledger writer does); (3) add the same spend to the
 * budget counters. A replayed batch inserts no detail row and so debits nothing. Writers take the
 * request keys in id order before any account lock, so two of them cannot deadlock.
 */
export async function postRequestCharges(
  ledger: SqlLedger,
  em: TxEntityManager,
  postings: readonly RequestPosting[],
): Promise<{ entries: LedgerEntry[]; counters: CounterUpdate[]; fresh: Set<RequestPosting> }> {
  const fresh = new Set<RequestPosting>()
  if (postings.length === 0) return { entries: [], counters: [], fresh }
  // A request queued twice in one batch (it cannot normally be) settles once.
  const byRequest = new Map<string, RequestPosting>()
  for (const p of postings) if (!byRequest.has(p.charge.requestId)) byRequest.set(p.charge.requestId, p)
  const batches = new Map<string, AccountBatch>()
  for (const p of byRequest.values()) {
    if (!batches.has(p.account.id)) {
      batches.set(p.account.id, { entryId: randomUUID(), account: p.account, requests: 0, cost: 0n, marketCost: 0n, savings: 0n, inputTokens: 0, outputTokens: 0, cachedReadTokens: 0, cacheWriteTokens: 0 })
    }
  }
  const accountIds = [...batches.keys()].sort()

  const n = byRequest.size
  const cols = { ids: new Array<string>(n), entries: new Array<string>(n), accounts: new Array<string>(n), cost: new Array<string>(n), market: new Array<string>(n), model: new Array<string | null>(n), input: new Array<number>(n), output: new Array<number>(n), cachedRead: new Array<number>(n), cacheWrite: new Array<number>(n), streaming: new Array<boolean>(n), estimated: new Array<boolean>(n) }
  let i = 0
  for (const p of byRequest.values()) {
    const c = p.charge
    cols.ids[i] = c.requestId
    cols.entries[i] = (batches.get(p.account.id) as AccountBatch).entryId
    cols.accounts[i] = p.account.id
    cols.cost[i] = c.cost.toString()
    cols.market[i] = c.marketCost.toString()
    cols.model[i] = c.model ?? null
    cols.input[i] = c.inputTokens
    cols.output[i] = c.outputTokens
    cols.cachedRead[i] = c.cachedReadTokens
    cols.cacheWrite[i] = c.cacheWriteTokens
    cols.streaming[i] = c.streaming
    cols.estimated[i] = c.estimated
    i++
  }
  const accepted = await sql<{ request_id: string }>(em, INSERT_DETAIL, [cols.ids, cols.entries, cols.accounts, cols.cost, cols.market, cols.model, cols.input, cols.output, cols.cachedRead, cols.cacheWrite, cols.streaming, cols.estimated])
  for (const r of accepted) {
    const p = byRequest.get(r.request_id) as RequestPosting
    fresh.add(p)
    const b = batches.get(p.account.id) as AccountBatch
    const c = p.charge
    b.requests++
    b.cost += c.cost
    b.marketCost += c.marketCost
    b.savings += savingsOf(c)
    b.inputTokens += c.inputTokens
    b.outputTokens += c.outputTokens
    b.cachedReadTokens += c.cachedReadTokens
    b.cacheWriteTokens += c.cacheWriteTokens
  }
  if (fresh.size === 0) return { entries: [], counters: [], fresh }

  const batchId = randomUUID()
  const drafts: EntryDraft[] = []
  for (const id of accountIds) {
    const b = batches.get(id) as AccountBatch
    if (b.requests === 0) continue
    drafts.push({
      id: b.entryId,
      accountId: id,
      organizationId: b.account.ref.organizationId,
      ...(b.account.ref.userId ? { userId: b.account.ref.userId } : {}),
      type: 'usage_debit',
      amount: -b.cost,
      idempotencyKey: `usage-batch:${batchId}`,
      description: b.requests === 1 ? '1 request' : `${b.requests} requests`,
      reference: { kind: SETTLEMENT_REFERENCE, id: batchId },
      actor: { type: 'system', id: 'billing.settlement' },
      metadata: {
        requests: b.requests,
        inputTokens: b.inputTokens,
        outputTokens: b.outputTokens,
        cachedReadTokens: b.cachedReadTokens,
        cacheWriteTokens: b.cacheWriteTokens,
        marketCost: b.marketCost.toString(),
        savings: b.savings.toString(),
      },
    })
  }
  const [entries] = await ledger.insertMany(drafts, em, { newKeys: true })
  const counters = await addToCounters(em, fresh, (p) => p.charge.cost)
  return { entries, counters, fresh }
}
