import type { TxEntityManager } from '@tollgate/core'
import type { Aggregated, LocalDayRow, RollupRow } from './aggregate.js'
import { CUBES, type CubeName, DIM_TYPES, localDayTableOf, measureColumns, tableOf } from './cubes.js'

/** Key columns of the grain rows and of the local-day rows (the rest is the cube's dimensions and measures). */
const GRAIN_KEY = { table: tableOf, cols: ['organization_id', 'grain', 'bucket_start'], types: ['organization_id uuid', 'grain integer', 'bucket_start timestamptz'] }
const DAY_KEY = { table: localDayTableOf, cols: ['organization_id', 'time_zone', 'day'], types: ['organization_id uuid', 'time_zone text', 'day date'] }

/** The upsert statement of a cube's table, built once: rows arrive as one JSON parameter. */
function upsertSql(cube: CubeName, key: typeof GRAIN_KEY): string {
  const { dims } = CUBES[cube]
  const { sums, maxes } = measureColumns(cube)
  const cols = [...key.cols, ...dims, ...sums, ...maxes]
  const types = [...key.types, ...dims.map((d) => `${d} ${DIM_TYPES[d]}`), ...[...sums, ...maxes].map((m) => `${m} bigint`)]
  const conflict = [...key.cols, ...dims].join(', ')
  const updates = [...sums.map((m) => `${m} = t.${m} + excluded.${m}`), ...maxes.map((m) => `${m} = greatest(t.${m}, excluded.${m})`), 'updated_at = now()']
  return `insert into ${key.table(cube)} as t (${cols.join(', ')})
    select ${cols.map((c) => `r.${c}`).join(', ')} from jsonb_to_recordset(?::jsonb) as r(${types.join(', ')})
    on conflict (${conflict}) do update set ${updates.join(', ')}`
}

const CUBE_NAMES = Object.keys(CUBES) as CubeName[]
const GRAIN_SQL = new Map(CUBE_NAMES.map((c) => [c, upsertSql(c, GRAIN_KEY)]))
const DAY_SQL = new Map(CUBE_NAMES.map((c) => [c, upsertSql(c, DAY_KEY)]))

/** A row as the JSON object the upsert reads (bigints as strings: JSON numbers would lose precision). */
function toJson(cube: CubeName, row: RollupRow | LocalDayRow): Record<string, unknown> {
  const { sums, maxes } = measureColumns(cube)
  const key = 'grain' in row ? { grain: row.grain, bucket_start: new Date(row.bucketStart).toISOString() } : { time_zone: row.timeZone, day: row.day }
  const out: Record<string, unknown> = { organization_id: row.organizationId, ...key, ...row.dims }
  sums.forEach((m, i) => {
    out[m] = row.sums[i].toString()
  })
  if (maxes.length > 0) {
    out.latency_max_ms = String(row.latencyMax)
    out.ttft_max_ms = String(row.ttftMax)
  }
  return out
}

/** Adds a batch's rows to the stored rollups of each cube (grains, then local days): one statement per table, in the caller's transaction. */
export async function upsertRollups(em: TxEntityManager, batch: Aggregated): Promise<void> {
  for (const [rowsByCube, sql] of [
    [batch.grains, GRAIN_SQL],
    [batch.localDays, DAY_SQL],
  ] as const) {
    for (const [cube, rows] of rowsByCube as Map<CubeName, (RollupRow | LocalDayRow)[]>) {
      if (rows.length === 0) continue
      await em.execute(sql.get(cube) as string, [JSON.stringify(rows.map((r) => toJson(cube, r)))], 'run')
    }
  }
}
