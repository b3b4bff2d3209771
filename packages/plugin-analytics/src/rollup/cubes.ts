/**
 * The shape of the rollups: which dimension sets ("cubes") are pre-aggregated, at which time
 * grains, with which measures. One table per cube, `analytics_rollup_<cube>`.
 *
 * Why several cubes: an organization-wide query over a year must read few rows. Grouping by model
 * reads the model cube (a row per model and bucket), not the detail rows of every key and app.
 *
 * Why these grains: every IANA zone's offset from UTC is a multiple of 15 minutes (Kolkata +5:30,
 * Kathmandu +5:45, Lord Howe's 30-minute DST), so every local hour and day starts on a 15-minute
 * UTC instant. Any 15-minute-aligned interval is exactly a sum of 15-minute, hour, 6-hour and day
 * rows (each grain divides the next), so buckets are exact in every zone while a local day reads
 * about ten rows per group instead of 96.
 */

/** A dimension column of the rollups. */
export type Dim = 'project_id' | 'api_key_id' | 'user_id' | 'provider' | 'model' | 'app_name'

/** Time grains in seconds, finest first; each divides the next. */
export const GRAINS = [900, 3600, 21_600, 86_400] as const

/** The cubes: their dimensions, the extra lookup indexes they have, and whether they keep histograms. */
export const CUBES = {
  org: { dims: [], lookups: [], histograms: false },
  model: { dims: ['provider', 'model'], lookups: [], histograms: true },
  project: { dims: ['project_id'], lookups: ['project_id'], histograms: false },
  key: { dims: ['api_key_id'], lookups: ['api_key_id'], histograms: true },
  member: { dims: ['user_id'], lookups: ['user_id'], histograms: false },
  detail: { dims: ['project_id', 'api_key_id', 'user_id', 'provider', 'model', 'app_name'], lookups: ['user_id', 'project_id'], histograms: true },
} as const satisfies Record<string, { dims: readonly Dim[]; lookups: readonly Dim[]; histograms: boolean }>

/** A cube's name. */
export type CubeName = keyof typeof CUBES

/** SQL type of each dimension column. */
export const DIM_TYPES: Record<Dim, 'uuid' | 'text'> = {
  project_id: 'uuid',
  api_key_id: 'uuid',
  user_id: 'uuid',
  provider: 'text',
  model: 'text',
  app_name: 'text',
}

/** Additive measures of every rollup row (bigint; money in picodollars). */
export const SUM_MEASURES = [
  'requests',
  'errors',
  'aborted',
  'input_tokens',
  'output_tokens',
  'cached_read_tokens',
  'cache_write_tokens',
  'cost',
  'market_cost',
  'latency_sum_ms',
  'ttft_count',
  'ttft_sum_ms',
] as const

/** A summed measure's column name. */
export type SumMeasure = (typeof SUM_MEASURES)[number]

/** Upper bounds (ms, inclusive) of the latency histogram buckets; one more bucket holds the rest. */
export const LATENCY_BOUNDS_MS = [100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 7500, 10_000, 15_000, 20_000, 30_000, 60_000] as const
/** Upper bounds (ms, inclusive) of the time-to-first-token histogram buckets; one more bucket holds the rest. */
export const TTFT_BOUNDS_MS = [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 30_000, 60_000] as const

/** Histogram bucket column names, e.g. latency_b00 … latency_b16. */
export function histogramColumns(kind: 'latency' | 'ttft'): string[] {
  const n = (kind === 'latency' ? LATENCY_BOUNDS_MS : TTFT_BOUNDS_MS).length + 1
  return Array.from({ length: n }, (_, i) => `${kind}_b${String(i).padStart(2, '0')}`)
}

/** Columns kept with greatest() instead of summed (histogram cubes only). */
export const MAX_MEASURES = ['latency_max_ms', 'ttft_max_ms'] as const

/** Every measure column of a cube. */
export function measureColumns(cube: CubeName): { sums: string[]; maxes: string[] } {
  if (!CUBES[cube].histograms) return { sums: [...SUM_MEASURES], maxes: [] }
  return { sums: [...SUM_MEASURES, ...histogramColumns('latency'), ...histogramColumns('ttft')], maxes: [...MAX_MEASURES] }
}

/** The rollup table of a cube. */
export function tableOf(cube: CubeName): string {
  return `analytics_rollup_${cube}`
}

/** The local-day tier table of a cube (analytics:0002_local_day). */
export function localDayTableOf(cube: CubeName): string {
  return `analytics_local_day_${cube}`
}

/** Index of the bucket a value falls in (bounds inclusive upper; last bucket open). */
export function histogramIndex(bounds: readonly number[], value: number): number {
  let lo = 0
  let hi = bounds.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (value <= bounds[mid]) hi = mid
    else lo = mid + 1
  }
  return lo
}
