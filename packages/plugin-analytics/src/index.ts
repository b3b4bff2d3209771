import 'reflect-metadata'
import { CoreServices, createServiceRef, definePlugin } from '@tollgate/core'
import { type AnalyticsPluginConfig, configSchema } from './config.js'
import { type EntitlementCheck, entitlementFor } from './http/access.js'
import { registerAnalyticsRoutes, registerKeyUsageRoute } from './http/routes.js'
import { AnalyticsRollups } from './migrations/0001-rollups.js'
import { AnalyticsLocalDay } from './migrations/0002-local-day.js'
import { AnalyticsService } from './query/analytics-service.js'
import { rollupWorker } from './rollup/rollup-worker.js'
import { isTimeZone } from './time/zone.js'

export type { AnalyticsPluginConfig, EntitlementPolicy } from './config.js'
export type { EntitlementCheck } from './http/access.js'
export { ANALYTICS_ERRORS } from './errors.js'
export { AnalyticsService, type Scope, type GroupBy } from './query/analytics-service.js'
export { rollUpBatch, ROLLUP_CONSUMER, ROLLUP_WORKER, type RollUpOptions } from './rollup/rollup-worker.js'
export { CUBES, GRAINS, LATENCY_BOUNDS_MS, TTFT_BOUNDS_MS, type CubeName } from './rollup/cubes.js'

/** Services the analytics plugin provides and reads. */
export const AnalyticsServices = {
  /** The query service (other plugins and the dashboard read analytics through it). */
  service: createServiceRef<AnalyticsService>('analytics.service'),
  /** Provide this (e.g. from a billing plugin's plans) to decide which organizations get the enterprise views. */
  entitlement: createServiceRef<EntitlementCheck>('analytics.entitlement'),
} as const

/**
 * The analytics plugin: rolls core usage events up exactly once into pre-aggregated rollups (a
 * background worker, one instance at a time) and serves organization, member, key and model
 * analytics from them in any IANA time zone, as JSON or CSV.
 */
export const analyticsPlugin = definePlugin<AnalyticsPluginConfig>({
  id: 'analytics',
  configSchema,
  migrations: [
    { name: 'analytics:0001_rollups', class: AnalyticsRollups },
    { name: 'analytics:0002_local_day', class: AnalyticsLocalDay },
  ],
  register(host, config) {
    for (const zone of config.rollup.localDayZones) if (!isTimeZone(zone)) throw new Error(`analytics: rollup.localDayZones: "${zone}" is not an IANA time zone (e.g. Europe/Paris)`)
    const identity = host.services.get(CoreServices.identity)
    const service = new AnalyticsService(host.db, identity)
    host.services.provide(AnalyticsServices.service, service)
    host.workers.add(rollupWorker(host.usage, host.metrics, config.rollup))
    const entitled = entitlementFor(config.entitlement, () => host.services.find(AnalyticsServices.entitlement))
    const deps = { service, identity, policy: config.entitlement, entitled }
    host.routes('/analytics', (app) => registerAnalyticsRoutes(app, deps))
    host.routes('/v1/keys', (app) => registerKeyUsageRoute(app, deps))
  },
})
