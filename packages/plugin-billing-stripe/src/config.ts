import type { JsonSchema } from '@tollgate/core'

/** Default unit prices of the generic meters, USD per unit as decimal strings (never floats). */
export const DEFAULT_METER_PRICES: Readonly<Record<string, string>> = {
  /** Per API request. */
  api_requests: '0.00001',
  /** Per SQL query executed. */
  sql_queries: '0.00002',
  /** Per GB-day, billed on the day's peak (≈ $0.10 per GB-month). */
  storage_gb: '0.0033',
  /** Per compute minute. */
  compute_minutes: '0.0008',
  /** Per GB transferred. */
  bandwidth_gb: '0.05',
  /** Per token stored for data retention: $0.01 per million tokens. */
  stored_tokens: '0.00000001',
}

/** Meters whose samples are levels (billed on the daily peak) rather than counts (billed per unit). */
export const DEFAULT_GAUGE_METERS: readonly string[] = ['storage_gb']

/**
 * Options of the ledger, metering, budget and alert side of the billing plugin (the payments side
 * adds its own keys; see `commerceConfigProperties`). Every key has a default.
 */
export interface LedgerSideConfig {
  /** IANA timezone of organizations that set none; budget periods reset at local midnight. */
  defaultTimezone: string
  /** Reject requests when the account's prepaid balance cannot cover their maximum cost. Organizations may override it. */
  requirePrepaidBalance: boolean
  reservation: {
    /** Output tokens reserved when the request sets no max_tokens and the model declares no output limit. */
    fallbackMaxOutputTokens: number
  }
  leases: {
    /** How long a lease lives without renewal; a crashed instance's leases are released this long after its last renewal (plus the sweep interval). */
    ttlMs: number
    /** A lease asks for this many maximum-cost requests' worth at a time. */
    sliceRequests: number
    /** …but never more than this share of what is still available (so other instances get their part). */
    maxShareOfAvailable: number
    /** Unused lease headroom goes back to the pool after this long without a request. */
    idleReturnMs: number
    /** After a rejected lease, requests are answered from memory for this long before asking the database again. */
    exhaustedRetryMs: number
  }
  settlement: {
    /** The instance writes settled costs to the ledger at least this often. */
    flushIntervalMs: number
    /** …or when this many are queued. */
    batchSize: number
    /** Interval of the worker that settles usage events no instance wrote (crashes) and releases expired leases. */
    workerIntervalMs: number
    /** How long after a request completes the usage-event worker leaves it to the serving instance to settle. */
    workerGraceMs: number
  }
  meters: {
    /** Unit prices by meter name, USD per unit as decimal strings; merged over DEFAULT_METER_PRICES. */
    prices: Record<string, string>
    /** Meters billed on their daily peak. */
    gauges: string[]
    /** A gauge day that ended is billed once no sample for it has been recorded for this long (samples of one day often arrive in a burst). */
    gaugeQuietMs: number
  }
  alerts: {
    /** Default low-balance threshold in USD (organizations may set their own); "0" switches the alert off. */
    lowBalanceUsd: string
    /** Default budget alert thresholds, percent of the budget. */
    budgetThresholds: number[]
    /** Timeout of one Slack/Discord webhook delivery. */
    webhookTimeoutMs: number
    /** Deliveries are retried this many times with backoff. */
    webhookRetries: number
  }
}

/** JSON Schema properties of LedgerSideConfig (defaults applied by ajv). */
export const ledgerConfigProperties: Record<string, JsonSchema> = {
  defaultTimezone: { type: 'string', minLength: 1, default: 'UTC' },
  requirePrepaidBalance: { type: 'boolean', default: true },
  reservation: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: { fallbackMaxOutputTokens: { type: 'integer', minimum: 1, default: 4096 } },
  },
  leases: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      ttlMs: { type: 'integer', minimum: 200, default: 30_000 },
      sliceRequests: { type: 'integer', minimum: 1, default: 200 },
      maxShareOfAvailable: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.25 },
      idleReturnMs: { type: 'integer', minimum: 10, default: 10_000 },
      exhaustedRetryMs: { type: 'integer', minimum: 0, default: 250 },
    },
  },
  settlement: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      flushIntervalMs: { type: 'integer', minimum: 1, default: 200 },
      batchSize: { type: 'integer', minimum: 1, default: 500 },
      workerIntervalMs: { type: 'integer', minimum: 10, default: 2000 },
      workerGraceMs: { type: 'integer', minimum: 0, default: 2000 },
    },
  },
  meters: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      prices: { type: 'object', additionalProperties: { type: 'string', pattern: '^\\d{1,15}(\\.\\d{1,12})?$' }, propertyNames: { pattern: '^[a-z][a-z0-9_]{0,62}$' }, default: {} },
      gauges: { type: 'array', items: { type: 'string' }, default: [...DEFAULT_GAUGE_METERS] },
      gaugeQuietMs: { type: 'integer', minimum: 0, default: 60_000 },
    },
  },
  alerts: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      lowBalanceUsd: { type: 'string', pattern: '^\\d{1,15}(\\.\\d{1,12})?$', default: '5' },
      budgetThresholds: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 1000 }, default: [80, 95, 100] },
      webhookTimeoutMs: { type: 'integer', minimum: 100, default: 5000 },
      webhookRetries: { type: 'integer', minimum: 0, maximum: 10, default: 2 },
    },
  },
}
