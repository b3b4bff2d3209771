/**
 * The local-day tier's zones: which are kept, their backfill, and their removal.
 *
 * A zone is listed in analytics_local_day_zone only once its tier is complete: the backfill (read
 * from the grain rows, which are exact for any 15-minute-aligned interval) and the list row commit
 * in one transaction. From then on every rollup batch adds to the tier of each listed zone in the
 * batch's own transaction, so a listed zone's tier always equals its grain rows.
 *
 * Locking: the list changes only in a transaction that holds the rollup cursor (the worker's run,
 * after its batch), so no batch runs meanwhile: a batch before the change is in the grain rows the
 * backfill reads and did not write the new zone; a batch after it sees the zone and adds its events
 * to the new tier; never both. A batch also takes the list in SHARE mode and a change takes it in
 * EXCLUSIVE mode, always after the cursor (one lock order, so no deadlock).
 */
import type { TxEntityManager } from '@tollgate/core'
import { decompose } from '../time/decompose.js'
import { dayStartsBetween, localDate, localDateLabel, localToUtc } from '../time/zone.js'
import { CUBES, type CubeName, localDayTableOf, measureColumns, tableOf } from './cubes.js'

const QUARTER_MS = 900_000
const ZONES = 'analytics_local_day_zone'

/** The zones whose tier a batch must keep, read under a SHARE lock held to the end of the batch's transaction. */
export async function zonesForBatch(em: TxEntityManager): Promise<string[]> {
  await em.execute(`lock table ${ZONES} in share mode`, [], 'run')
  const rows = await em.execute<{ time_zone: string }[]>(`select time_zone from ${ZONES} order by time_zone`, [], 'all')
  return rows.map((r) => r.time_zone)
}

/**
 * Makes the kept zones equal `wanted`: backfills zones that are new, deletes the tier of zones no
 * longer wanted. Cheap when nothing changed (one read); a change runs in the caller's transaction,
 * which must hold the rollup cursor (call it after a batch in the same transaction).
 * Returns the zones added and removed.
 */
export async function syncLocalDayZones(em: TxEntityManager, wanted: readonly string[]): Promise<{ added: string[]; removed: string[] }> {
  const want = new Set(wanted)
  const read = async () => new Set((await em.execute<{ time_zone: string }[]>(`select time_zone from ${ZONES}`, [], 'all')).map((r) => r.time_zone))
  let kept = await read()
  if (kept.size === want.size && [...want].every((z) => kept.has(z))) return { added: [], removed: [] }
  await em.execute(`lock table ${ZONES} in exclusive mode`, [], 'run')
  kept = await read()
  const removed = [...kept].filter((z) => !want.has(z))
  const added = [...want].filter((z) => !kept.has(z))
  for (const zone of removed) {
    for (const cube of Object.keys(CUBES) as CubeName[]) await em.execute(`delete from ${localDayTableOf(cube)} where time_zone = ?`, [zone], 'run')
    await em.execute(`delete from ${ZONES} where time_zone = ?`, [zone], 'run')
  }
  for (const zone of added) {
    await backfillZone(em, zone)
    await em.execute(`insert into ${ZONES} (time_zone) values (?)`, [zone], 'run')
  }
  return { added, removed }
}

/**
 * The backfill statement of a cube: every organization's grain rows, read as whole rows per local
 * day and added up; inserted in (organization, day) order, as batches would have, so a year's read
 * touches few heap pages (in hash order it touched one page per row).
 */
function backfillSql(cube: CubeName): string {
  const { dims } = CUBES[cube]
  const { sums, maxes } = measureColumns(cube)
  const inner = [...dims, ...sums, ...maxes].map((c) => `x.${c}`).join(', ')
  return `insert into ${localDayTableOf(cube)} (organization_id, time_zone, day${dims.map((d) => `, ${d}`).join('')}, ${[...sums, ...maxes].join(', ')})
    select o.organization_id, ?, r.day${dims.map((d) => `, y.${d}`).join('')}, ${[...sums.map((m) => `sum(y.${m})`), ...maxes.map((m) => `max(y.${m})`)].join(', ')}
      from (select distinct organization_id from ${tableOf('org')} where grain = 86400) o
      cross join unnest(?::int[], ?::timestamptz[], ?::timestamptz[], ?::date[]) as r(grain, s, e, day)
      cross join lateral (
        select ${inner} from ${tableOf(cube)} x
         where x.organization_id = o.organization_id and x.grain = r.grain and x.bucket_start >= r.s and x.bucket_start < r.e
        offset 0
      ) y
     group by o.organization_id, r.day${dims.map((d) => `, y.${d}`).join('')}
     order by o.organization_id, r.day`
}

/**
 * Fills a zone's tier from the grain rows: each local day of the stored span is covered by whole
 * day, 6-hour, hour and 15-minute rows (added only, so maxima stay exact), in the zone's own
 * calendar — a 23- or 25-hour DST day, Kathmandu's +5:45, Lord Howe's half-hour shift included.
 */
export async function backfillZone(em: TxEntityManager, zone: string): Promise<void> {
  const [span] = await em.execute<{ lo: string | null; hi: string | null }[]>(`select min(bucket_start) as lo, max(bucket_start) as hi from ${tableOf('org')} where grain = 900`, [], 'all')
  if (!span?.lo || !span.hi) return
  const lo = new Date(span.lo).getTime()
  const hi = new Date(span.hi).getTime()
  const first = localDate(zone, lo)
  const start = localToUtc(zone, first.year, first.month, first.day)
  const afterLast = dayStartsBetween(zone, hi, hi + 3 * 86_400_000)[0]
  const boundaries = [start, ...dayStartsBetween(zone, start, afterLast), afterLast]
  if (boundaries.some((b) => b % QUARTER_MS !== 0)) throw new Error(`time zone ${zone} has a day that does not start on a quarter hour in the stored span`)
  const labels = boundaries.slice(0, -1).map((b) => localDateLabel(zone, b))
  const ranges = decompose(boundaries, false)
  const iso = (ms: number) => new Date(ms).toISOString()
  const params = [
    zone,
    `{${ranges.map((r) => r.grain).join(',')}}`,
    `{${ranges.map((r) => iso(r.start)).join(',')}}`,
    `{${ranges.map((r) => iso(r.end)).join(',')}}`,
    `{${ranges.map((r) => labels[r.bucket]).join(',')}}`,
  ]
  for (const cube of Object.keys(CUBES) as CubeName[]) await em.execute(backfillSql(cube), params, 'run')
}
