import type { TxEntityManager } from '@tollgate/core'
import type { RollupRow } from './aggregate.js'
import { CUBES, type CubeName, DIM_TYPES, measureColumns, tableOf } from './cubes.js'

/** The upsert statement of a cube, built once: rows arrive as one JSON parameter. */
function upsertSql(cube: CubeName): string {
  const { dims } = CUBES[cube]
  const { sums, maxes } = measureColumns(cube)
  const cols = ['organization_id', 'grain', 'bucket_start', ...dims, ...sums, ...maxes]
  const types = ['organization_id uuid', 'grain integer', 'bucket_start timestamptz', ...dims.map((d) => `${d} ${DIM_TYPES[d]}`), ...[...sums, ...maxes].map((m) => `${m} bigint`)]
  const conflict = ['organization_id', 'grain', 'bucket_start', ...dims].join(', ')
  const updates = [...sums.map((m) => `${m} = t.${m} + excluded.${m}`), ...maxes.map((m) => `${m} = greatest(t.${m}, excluded.${m})`), 'updated_at = now()']
  return `insert into ${tableOf(cube)} as t (${cols.join(', ')})
    select ${cols.map((c) => `r.${c}`).join(', ')} from jsonb_to_recordset(?::jsonb) as r(${types.join(', ')})
    on conflict (${conflict}) do update set ${updates.join(', ')}`
}

const SQL = new Map((Object.keys(CUBES) as CubeName[]).map((c) => [c, upsertSql(c)]))

/** A row as the JSON object the upsert reads (bigints as strings: JSON numbers would lose precision). */
function toJson(cube: CubeName, row: RollupRow): Record<string, unknown> {
  const { sums, maxes } = measureColumns(cube)
  const out: Record<string, unknown> = { organization_id: row.organizationId, grain: row.grain, bucket_start: new Date(row.bucketStart).toISOString(), ...row.dims }
  sums.forEach((m, i) => {
    out[m] = row.sums[i].toString()
  })
  if (maxes.length > 0) {
    out.latency_max_ms = String(row.latencyMax)
    out.ttft_max_ms = String(row.ttftMax)
  }
  return out
}

/** Adds a batch's rows to the stored rollups of each cube: one statement per cube, in the caller's transaction. */
export async function upsertRollups(em: TxEntityManager, rowsByCube: Map<CubeName, RollupRow[]>): Promise<void> {
  for (const [cube, rows] of rowsByCube) {
    if (rows.length === 0) continue
    await em.execute(SQL.get(cube) as string, [JSON.stringify(rows.map((r) => toJson(cube, r)))], 'run')
  }
}
