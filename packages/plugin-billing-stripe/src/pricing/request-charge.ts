import type { Picodollars, RequestContext, UsageEvent } from '@tollgate/core'

/**
 * What one proxied request is charged: its cost at your price, the market rate, the savings
 * (market − cost) and the token counts, as recorded in billing_settled_request. Built the same way
 * from a finished request's context (the instance that served it) and from its usage event (the
 * settlement worker), so whichever writes first writes the same detail.
 */
export interface RequestCharge {
  requestId: string
  occurredAt: Date
  organizationId: string
  userId?: string
  projectId?: string
  apiKeyId?: string
  model?: string
  provider?: string
  cost: Picodollars
  marketCost: Picodollars
  inputTokens: number
  outputTokens: number
  cachedReadTokens: number
  cacheWriteTokens: number
  streaming: boolean
  estimated: boolean
}

/** Savings against the market rate (never negative: a price above market saves nothing). */
export function savingsOf(c: Pick<RequestCharge, 'cost' | 'marketCost'>): Picodollars {
  return c.marketCost > c.cost ? c.marketCost - c.cost : 0n
}

/** The charge of a finished request, or undefined when it cost nothing. */
export function chargeFromContext(ctx: RequestContext): RequestCharge | undefined {
  const cost = ctx.cost?.cost ?? 0n
  if (cost <= 0n || !ctx.principal) return undefined
  const p = ctx.principal
  const u = ctx.usage
  const end = ctx.timings.end ?? performance.now()
  return {
    requestId: ctx.id,
    occurredAt: new Date(Date.now() - (end - ctx.timings.start)),
    organizationId: p.organizationId,
    userId: p.userId,
    projectId: p.projectId,
    apiKeyId: p.apiKeyId,
    model: ctx.route?.model ?? ctx.request?.model,
    provider: ctx.route?.provider,
    cost,
    marketCost: ctx.cost?.marketCost ?? cost,
    inputTokens: u?.inputTokens ?? 0,
    outputTokens: u?.outputTokens ?? 0,
    cachedReadTokens: u?.cachedReadTokens ?? 0,
    cacheWriteTokens: u?.cacheWriteTokens ?? 0,
    streaming: ctx.request?.stream ?? false,
    estimated: u?.estimated ?? false,
  }
}

/** The charge of a usage event, or undefined when it cost nothing (reads only the fields a charge carries). */
export function chargeFromEvent(e: Pick<UsageEvent, keyof RequestCharge & keyof UsageEvent>): RequestCharge | undefined {
  if (e.cost <= 0n) return undefined
  return {
    requestId: e.requestId,
    occurredAt: e.occurredAt,
    organizationId: e.organizationId,
    userId: e.userId,
    projectId: e.projectId,
    apiKeyId: e.apiKeyId,
    model: e.model,
    provider: e.provider,
    cost: e.cost,
    marketCost: e.marketCost,
    inputTokens: e.inputTokens,
    outputTokens: e.outputTokens,
    cachedReadTokens: e.cachedReadTokens,
    cacheWriteTokens: e.cacheWriteTokens,
    streaming: e.streaming,
    estimated: e.estimated,
  }
}

/**
 * The idempotency key of a request's own usage debit, as written before settlement was batched
 * (billing:0004): such entries stay in existing ledgers. New requests are settled in batch debits
 * (see `BillingLedger.settledRequest`).
 */
export function usageDebitKey(requestId: string): string {
  return `usage:${requestId}`
}
