import type { MetricsRegistry, StoredUsageEvent, TxEntityManager, UsageEventReader, WorkerDefinition } from '@tollgate/core'
import { aggregate } from './aggregate.js'
import { syncLocalDayZones, zonesForBatch } from './local-day.js'
import { upsertRollups } from './upsert.js'

/** Events added up per upsert: about 2 ms of summing when they share one key and model, 10–15 ms when every event starts new rows (measured). */
const AGGREGATE_SLICE = 500

/** The usage-event consumer name of the rollups (its cursor row in core_event_cursor). */
export const ROLLUP_CONSUMER = 'analytics.rollup'
/** The background worker's name (also its cluster-wide advisory lock). */
export const ROLLUP_WORKER = 'analytics.rollup'

/** Options of one rollup batch. */
export interface RollUpOptions {
  /** Most events per batch. */
  limit: number
  /** Run inside this transaction (the worker's, which holds its advisory lock). */
  em?: TxEntityManager
  /** Events summed per upsert (default AGGREGATE_SLICE). */
  slice?: number
  /** Called after the upsert, before the cursor advances and the transaction commits (tests simulate a crash here). */
  beforeCommit?: (events: StoredUsageEvent[]) => Promise<void> | void
}

/**
 * Rolls up the next batch of usage events. The upsert and the cursor advance are one transaction:
 * a crash anywhere before commit leaves both as they were, and the batch is read again.
 * Returns the number of events rolled up (0 when caught up).
 */
export async function rollUpBatch(usage: UsageEventReader, options: RollUpOptions): Promise<{ count: number; newest?: Date }> {
  let newest: Date | undefined
  const count = await usage.consume(
    ROLLUP_CONSUMER,
    options.limit,
    async (events, em) => {
      // The zones read here (under a lock a zone's backfill waits for) get this batch's local-day rows.
      const zones = await zonesForBatch(em)
      // Added up and written a slice at a time: a whole batch summed in one go holds the event loop
      // for tens of milliseconds while live requests wait; between slices the upsert's database
      // round trip lets them run. Each slice adds into the rows the previous ones wrote, in the same
      // transaction, so the result is the batch's.
      const slice = options.slice ?? AGGREGATE_SLICE
      for (let i = 0; i < events.length; i += slice) await upsertRollups(em, aggregate(events.slice(i, i + slice), zones))
      for (const e of events) if (!newest || e.occurredAt > newest) newest = e.occurredAt
      await options.beforeCommit?.(events)
    },
    options.em ? { em: options.em } : {},
  )
  return { count, newest }
}

/**
 * The rollup worker: runs on one instance at a time, and again at once while a full batch came back.
 * Each run rolls up one batch, then makes the local-day tier's zones equal `localDayZones` (a new
 * zone is backfilled in the run's transaction).
 */
export function rollupWorker(usage: UsageEventReader, metrics: MetricsRegistry, options: { intervalMs: number; batchSize: number; localDayZones: readonly string[] }): WorkerDefinition {
  const events = metrics.counter({ name: 'tollgate_analytics_rollup_events_total', help: 'Usage events rolled up into the analytics rollups' })
  const duration = metrics.histogram({
    name: 'tollgate_analytics_rollup_batch_duration_seconds',
    help: 'Time to roll up one batch of usage events (upsert and cursor advance)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  })
  const lag = metrics.gauge({ name: 'tollgate_analytics_rollup_lag_seconds', help: 'Age of the newest usage event rolled up, when the last batch ran' })
  return {
    name: ROLLUP_WORKER,
    intervalMs: options.intervalMs,
    async run({ em, log }) {
      const started = performance.now()
      const { count, newest } = await rollUpBatch(usage, { limit: options.batchSize, em })
      // After the batch: this transaction now holds the rollup cursor, so no batch can run while
      // the zone list changes, and locks are taken in the batches' order (cursor, then zone list).
      const zones = await syncLocalDayZones(em, options.localDayZones)
      if (zones.added.length + zones.removed.length > 0) log.info(zones, 'analytics local-day zones changed (added ones backfilled)')
      if (count > 0) {
        events.inc(count)
        duration.observe((performance.now() - started) / 1000)
        if (newest) lag.set(Math.max(0, (Date.now() - newest.getTime()) / 1000))
      }
      return count === options.batchSize
    },
  }
}
