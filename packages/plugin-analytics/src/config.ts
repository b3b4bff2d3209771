import type { JsonSchema } from '@tollgate/core'

/** Who gets the enterprise-only views (organization-wide and member analytics, ranges over 30 days). */
export interface EntitlementPolicy {
  /**
   * 'open' (default): every organization gets every view. 'enterprise': only organizations listed
   * in `organizations`, or approved by a service provided at `AnalyticsServices.entitlement` (a
   * billing plugin's plan check), get them; the others get TOLLGATE_ERR_ANALYTICS_UPGRADE_REQUIRED.
   */
  mode: 'open' | 'enterprise'
  /** Organization ids entitled to the enterprise views (mode 'enterprise'). */
  organizations: string[]
  /** Longest range, in days, of a non-entitled organization's queries (default 30). */
  maxDaysWithoutEntitlement: number
}

/** Options of the analytics plugin. */
export interface AnalyticsPluginConfig {
  rollup: {
    /** Time between rollup runs when caught up, ms (default 5000). */
    intervalMs: number
    /** Most usage events per rollup transaction (default 5000). */
    batchSize: number
    /**
     * IANA zones that get a local-day tier (default none): day series and long ranges in these
     * zones read one row per local day and group. Other zones are served, exactly, from the grain
     * rows. A zone added here is backfilled by the worker's next run; a zone removed is dropped.
     * UTC needs none (its days are the day grain).
     */
    localDayZones: string[]
  }
  entitlement: EntitlementPolicy
}

/** JSON Schema of the plugin's config (defaults applied by ajv). */
export const configSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    rollup: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        intervalMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 5000 },
        batchSize: { type: 'integer', minimum: 1, maximum: 100_000, default: 5000 },
        localDayZones: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true, maxItems: 32, default: [] },
      },
    },
    entitlement: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['open', 'enterprise'], default: 'open' },
        organizations: { type: 'array', items: { type: 'string', format: 'uuid' }, default: [] },
        maxDaysWithoutEntitlement: { type: 'integer', minimum: 1, maximum: 400, default: 30 },
      },
    },
  },
}
