import type { StoredUsageEvent, UsageEventField } from '@tollgate/core'

/**
 * The usage event fields settlement and the monthly rollup read: the log is read with only these
 * columns (core's projected read), so client IPs, user agents, latencies and failed attempts are
 * neither sent by PostgreSQL nor parsed for every event.
 */
export const SETTLEMENT_FIELDS = [
  'occurredAt',
  'organizationId',
  'userId',
  'projectId',
  'apiKeyId',
  'model',
  'provider',
  'cost',
  'marketCost',
  'inputTokens',
  'outputTokens',
  'cachedReadTokens',
  'cacheWriteTokens',
  'streaming',
  'estimated',
  'status',
] as const satisfies readonly UsageEventField[]

/** A usage event as settlement reads it. */
export type SettlementEvent = Pick<StoredUsageEvent, (typeof SETTLEMENT_FIELDS)[number] | 'id' | 'requestId'>
