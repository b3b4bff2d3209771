import type { RequestContext } from '../context/request-context.js'
import type { UsageEvent } from '../usage/usage-event.js'

/** Builds the one usage event of a finished request (metadata only, never content). */
export function usageEventFrom(ctx: RequestContext): UsageEvent | undefined {
  const p = ctx.principal
  if (!p) return undefined
  const t = ctx.timings
  const end = t.end ?? performance.now()
  const usage = ctx.usage
  return {
    requestId: ctx.id,
    occurredAt: new Date(Date.now() - (end - t.start)),
    organizationId: p.organizationId,
    projectId: p.projectId,
    apiKeyId: p.apiKeyId,
    userId: p.userId,
    provider: ctx.route?.provider,
    model: ctx.route?.model ?? ctx.request?.model,
    upstreamModel: ctx.route?.upstreamModel,
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    cachedReadTokens: usage?.cachedReadTokens ?? 0,
    cacheWriteTokens: usage?.cacheWriteTokens ?? 0,
    cost: ctx.cost?.cost ?? 0n,
    marketCost: ctx.cost?.marketCost ?? 0n,
    latencyMs: Math.round(end - t.start),
    ttftMs: t.firstByte !== undefined ? Math.round(t.firstByte - t.start) : undefined,
    status: ctx.status ?? (ctx.outcome === 'aborted' ? 499 : 200),
    errorCode: ctx.error?.code,
    streaming: ctx.request?.stream ?? false,
    clientIp: ctx.client.ip,
    userAgent: ctx.client.userAgent,
    appName: ctx.client.appName ?? p.appName,
    estimated: usage?.estimated ?? false,
    failedAttempts: ctx.failedAttempts.length > 0 ? ctx.failedAttempts : undefined,
  }
}
