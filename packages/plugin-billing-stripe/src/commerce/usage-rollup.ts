import type { StoredUsageEvent } from '@tollgate/core'
import type { CommerceContext } from './commerce-context.js'
import { type Em, rows } from './commerce-db.js'

/** The usage consumer's name in core_event_cursor. */
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
export function foldUsage(events: readonly StoredUsageEvent[]): Acc[] {
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

/** Adds folded sums to billing_usage_rollup in the consumer's transaction. */
export async function addToRollup(em: Em, sums: readonly Acc[]): Promise<void> {
  for (const a of sums) {
    await rows(
      em,
      `insert into billing_usage_rollup (organization_id, month, project_id, user_id, model, requests, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, cost, market_cost)
       values (?, ?::date, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (organization_id, month, project_id, user_id, model) do update set
         requests = billing_usage_rollup.requests + excluded.requests,
         input_tokens = billing_usage_rollup.input_tokens + excluded.input_tokens,
         output_tokens = billing_usage_rollup.output_tokens + excluded.output_tokens,
         cached_read_tokens = billing_usage_rollup.cached_read_tokens + excluded.cached_read_tokens,
         cache_write_tokens = billing_usage_rollup.cache_write_tokens + excluded.cache_write_tokens,
         cost = billing_usage_rollup.cost + excluded.cost,
         market_cost = billing_usage_rollup.market_cost + excluded.market_cost
       returning requests`,
      [a.organizationId, a.month, a.projectId, a.userId, a.model, a.requests, a.input, a.output, a.cachedRead, a.cacheWrite, a.cost.toString(), a.marketCost.toString()],
    )
  }
}

/**
 * Consumes core usage events exactly once (core's cursor commits with the rollup rows) into the
 * monthly rollup that plan limits, usage summaries, cost breakdowns and invoices read. Returns
 * how many events were folded.
 */
export async function runUsageRollup(ctx: CommerceContext, em?: Em, batch = ROLLUP_BATCH): Promise<number> {
  return ctx.host.usage.consume(ROLLUP_CONSUMER, batch, async (events, tx) => addToRollup(tx as Em, foldUsage(events)), em ? { em: em as never } : {})
}

/** Events folded per rollup run. */
export const ROLLUP_BATCH = 2000
