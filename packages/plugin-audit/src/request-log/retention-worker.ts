import type { WorkerDefinition } from '@tollgate/core'

/**
 * Nullifies verbose data (request and response bodies, error details) older than each
 * organization's retention window, in batches; the row keeps its request id, organization,
 * token count and the time it was nullified, and the request log's metadata and core's usage
 * events (the analytics) are not touched.
 */
export function retentionWorker(options: { intervalMs: number; batchSize: number; defaultWindowDays: number }): WorkerDefinition {
  return {
    name: 'audit.retention',
    intervalMs: options.intervalMs,
    async run({ em, log }) {
      const [{ n }] = await em.execute<{ n: number }[]>(
        `with due as (
           select b.request_id from audit_request_body b
             left join audit_retention_policy p on p.organization_id = b.organization_id
            where b.nullified_at is null
              and b.captured_at < now() - make_interval(days => coalesce(p.window_days, ?::int))
            limit ?
         ), done as (
           update audit_request_body set request = null, response = null, error = null, nullified_at = now()
            where request_id in (select request_id from due) returning 1
         )
         select count(*)::int as n from done`,
        [options.defaultWindowDays, options.batchSize],
        'all',
      )
      if (n > 0) log.info({ nullified: n }, 'retention: verbose request data past its window nullified')
      return n === options.batchSize
    },
  }
}
