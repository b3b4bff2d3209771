import type { FailedAttempt } from '../context/request-context.js'
import type { Picodollars } from '../util/money.js'

/** One proxied request's metadata (never prompt or completion content). Written once per request. */
export interface UsageEvent {
  requestId: string
  occurredAt: Date
  organizationId: string
  projectId?: string
  apiKeyId?: string
  /** The key's owner: spend lands on them. */
  userId?: string
  provider?: string
  model?: string
  upstreamModel?: string
  inputTokens: number
  outputTokens: number
  cachedReadTokens: number
  cacheWriteTokens: number
  cost: Picodollars
  marketCost: Picodollars
  latencyMs: number
  ttftMs?: number
  status: number
  errorCode?: string
  streaming: boolean
  clientIp?: string
  userAgent?: string
  appName?: string
  estimated: boolean
  failedAttempts?: FailedAttempt[]
}

/** A usage event as read back by a consumer, with its position in the log. */
export interface StoredUsageEvent extends UsageEvent {
  /** Sequence id in core_usage_event. */
  id: bigint
}
