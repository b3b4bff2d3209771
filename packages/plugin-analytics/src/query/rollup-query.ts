import type { TxEntityManager } from '@tollgate/core'
import { CUBES, type CubeName, type Dim, measureColumns, tableOf } from '../rollup/cubes.js'
import { decompose } from '../time/decompose.js'

/** A read of one cube: filters, grouping and buckets. */
export interface CubeQuery {
  cube: CubeName
  organizationId: string
  /** Equality filters on the cube's dimensions. */
  filters?: Partial<Record<Dim, string>>
  /** Dimensions to group by (besides the bucket). */
  groupBy?: readonly Dim[]
  /** Bucket boundaries (n + 1 instants, ms, on 15-minute UTC instants): n buckets. */
  boundaries: readonly number[]
  /** Read the latency and TTFT histograms too (histogram cubes only). */
  histograms?: boolean
}

/** One group of one bucket: summed measures by column name (bigint), maxima, and its dimension values. */
export interface CubeRow {
  /** Index of the bucket (0-based). */
  bucket: number
  dims: Partial<Record<Dim, string | null>>
  sums: Record<string, bigint>
  maxes: Record<string, number>
}

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Reads the rollups of a cube for the given buckets. The buckets are decomposed into ranges of
 * whole rollup rows per grain; each range is an index range read, and each row is mapped to its
 * bucket with width_bucket. Never touches the raw usage events.
 */
export async function queryCube(em: TxEntityManager, q: CubeQuery): Promise<CubeRow[]> {
  const def = CUBES[q.cube]
  const groupBy = q.groupBy ?? []
  for (const d of [...groupBy, ...Object.keys(q.filters ?? {})]) {
    if (!(def.dims as readonly string[]).includes(d)) throw new Error(`cube ${q.cube} has no dimension ${d}`)
  }
  // Sums may subtract rows (fewer rows to read); maxima cannot.
  const ranges = decompose(q.boundaries, !q.histograms)
  if (ranges.length === 0) return []
  // Histogram columns only when asked: they are most of a row's width.
  const all = measureColumns(q.cube)
  const sums = q.histograms ? all.sums : all.sums.filter((m) => !m.includes('_b'))
  const maxes = q.histograms ? all.maxes : []
  const filters = Object.entries(q.filters ?? {}) as [Dim, string][]
  const cols = ['bucket_start', ...groupBy, ...sums, ...maxes].map((c) => `x.${c}`).join(', ')
  // One index range read per range: a lateral subquery kept from being flattened (offset 0), so
  // the planner cannot turn it into a hash join that reads every row of the organization.
  const sql = `select r.b as bucket${groupBy.map((d) => `, y.${d}::text as ${d}`).join('')},
      concat_ws(',', ${[...sums.map((m) => `sum(y.${m} * r.sign)`), ...maxes.map((m) => `max(y.${m})`)].join(', ')}) as m
    from unnest(?::int[], ?::timestamptz[], ?::timestamptz[], ?::int[], ?::int[]) as r(grain, s, e, b, sign)
    cross join lateral (
      select ${cols} from ${tableOf(q.cube)} x
       where x.organization_id = ? and x.grain = r.grain and x.bucket_start >= r.s and x.bucket_start < r.e
       ${filters.map(([d]) => `and x.${d} = ?`).join(' ')}
      offset 0
    ) y
    group by 1${groupBy.map((_, i) => `, ${i + 2}`).join('')}`
  const params: unknown[] = [
    `{${ranges.map((r) => r.grain).join(',')}}`,
    `{${ranges.map((r) => iso(r.start)).join(',')}}`,
    `{${ranges.map((r) => iso(r.end)).join(',')}}`,
    `{${ranges.map((r) => r.bucket).join(',')}}`,
    `{${ranges.map((r) => r.sign).join(',')}}`,
    q.organizationId,
    ...filters.map(([, v]) => v),
  ]
  const rows = await em.execute<Record<string, string | number | null>[]>(sql, params, 'all')
  const out: CubeRow[] = []
  for (const r of rows) {
    // The measures come packed in one comma-separated text column, in the order selected: a year's
    // series is 10,950 rows, and one field per row parses far cheaper than fourteen.
    const values = String(r.m).split(',')
    // With subtracted rows, a group can net to nothing in a bucket (it had no requests there).
    if (values[0] === '0') continue
    const dims: Partial<Record<Dim, string | null>> = {}
    for (const d of groupBy) dims[d] = (r[d] as string | null) ?? null
    const s: Record<string, bigint> = {}
    for (let i = 0; i < sums.length; i++) s[sums[i]] = BigInt(values[i] || '0')
    const mx: Record<string, number> = {}
    for (let i = 0; i < maxes.length; i++) mx[maxes[i]] = Number(values[sums.length + i] || 0)
    out.push({ bucket: Number(r.bucket), dims, sums: s, maxes: mx })
  }
  return out
}
