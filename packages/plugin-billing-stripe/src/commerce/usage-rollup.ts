import type { TxEntityManager } from '@tollgate/core'
import type { SettlementEvent } from '../ledger/settlement-fields.js'
import { sql } from '../ledger/sql-exec.js'
import type { Em } from './commerce-db.js'

/**
 * The usage consumer's name in core_event_cursor. The rollup is folded by the ledger side's
 * usage-settlement worker, in the same read and transaction as settlement (one read of each event
 * for both); this cursor, committed with the rollup rows, keeps it exactly once.
 */
export const ROLLUP_CONSUMER = 'billing.commerce-rollup'

interface Acc {
  organizationId: string
  month: string
  projectId: string
  userId: string
  model: string
  requests: number
  input: number
  output: number
  cachedRead: number
  cacheWrite: number
  cost: bigint
  marketCost: bigint
}

/** Folds a batch of usage events into per (organization, month, project, member, model) sums. */
export function foldUsage(events: readonly SettlementEvent[]): Acc[] {
  const byKey = new Map<string, Acc>()
  for (const e of events) {
    // Requests refused or failed without any usage (a plan or budget refusal) are not counted.
    if (e.status >= 400 && e.inputTokens + e.outputTokens === 0) continue
    const month = `${e.occurredAt.toISOString().slice(0, 7)}-01`
    const key = `${e.organizationId}|${month}|${e.projectId ?? ''}|${e.userId ?? ''}|${e.model ?? ''}`
    let a = byKey.get(key)
    if (!a) {
      a = { organizationId: e.organizationId, month, projectId: e.projectId ?? '', userId: e.userId ?? '', model: e.model ?? '', requests: 0, input: 0, output: 0, cachedRead: 0, cacheWrite: 0, cost: 0n, marketCost: 0n }
      byKey.set(key, a)
    }
    a.requests++
    a.input += e.inputTokens
    a.output += e.outputTokens
    a.cachedRead += e.cachedReadTokens
    a.cacheWrite += e.cacheWriteTokens
    a.cost += e.cost
    a.marketCost += e.marketCost
  }
  return [...byKey.values()]
}

/**
 * Adds folded sums to billing_usage_rollup in the consumer's transaction: one upsert for the whole
 * batch (the rows as unnest() arrays of bound parameters; every key appears once, as folded).
 */
export async function addToRollup(em: Em, sums: readonly Acc[]): Promise<void> {
  if (sums.length === 0) return
  await sql(
    em as unknown as TxEntityManager,
    `insert into billing_usage_rollup (organization_id, month, project_id, user_id, model, requests, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, cost, market_cost)
     select * from unnest($1::uuid[], $2::date[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
     order by 1, 2, 3, 4, 5
     on conflict (organization_id, month, project_id, user_id, model) do update set
       requests = billing_usage_rollup.requests + excluded.requests,
       input_tokens = billing_usage_rollup.input_tokens + excluded.input_tokens,
       output_tokens = billing_usage_rollup.output_tokens + excluded.output_tokens,
       cached_read_tokens = billing_usage_rollup.cached_read_tokens + excluded.cached_read_tokens,
       cache_write_tokens = billing_usage_rollup.cache_write_tokens + excluded.cache_write_tokens,
       cost = billing_usage_rollup.cost + excluded.cost,
       market_cost = billing_usage_rollup.market_cost + excluded.market_cost`,
    [
      sums.map((a) => a.organizationId),
      sums.map((a) => a.month),
      sums.map((a) => a.projectId),
      sums.map((a) => a.userId),
      sums.map((a) => a.model),
      sums.map((a) => a.requests),
      sums.map((a) => a.input),
      sums.map((a) => a.output),
      sums.map((a) => a.cachedRead),
      sums.map((a) => a.cacheWrite),
      sums.map((a) => a.cost.toString()),
      sums.map((a) => a.marketCost.toString()),
    ],
  )
}
