import { definePlugin } from '@tollgate/core'

/** Options of the analytics plugin. This release accepts none; its schema rejects unknown keys so a setting is never silently ignored. */
export type AnalyticsPluginConfig = Record<string, never>

/**
 * The analytics plugin. Organization-wide usage analytics: totals and breakdowns by model, project, API key and member, in daily buckets of any IANA time zone, served from pre-aggregated rollups.
 *
 * This first release only reserves the plugin id `analytics` and its place in the gateway's plugin
 * list: `register` adds no hooks, routes, tables or workers, so adding it changes nothing about
 * how requests are served. Later releases will roll usage events up idempotently and serve the analytics API.
 */
export const analyticsPlugin = definePlugin<AnalyticsPluginConfig>({
  id: 'analytics',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  register(host) {
    host.log.debug('analytics plugin registered; this release adds no hooks or routes')
  },
})
