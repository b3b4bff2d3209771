import type { TxEntityManager } from '@tollgate/core'
import type { Dim } from '../rollup/cubes.js'
import { type Counts, formatPicoUsd, type Totals, totalsFrom } from './measures.js'
import { type CubeQuery, sourceOf } from './rollup-query.js'

/** One line of a series: a group in a bucket, a group over all buckets, or the grand total. */
export interface SeriesLine {
  /** Bucket index (-1 on group and grand-total lines). */
  bucket: number
  /** The group's value (null: usage without the dimension). */
  key: string | null
  totals: Totals
  /** Exact cost in picodollars (group and grand-total lines only; 0 on cells): ranking and shares. */
  cost: bigint
}

/** A series with its per-group and grand totals. */
export interface Series {
  cells: SeriesLine[]
  groups: SeriesLine[]
  total: SeriesLine
}

const COUNTS = ['requests', 'errors', 'aborted', 'input_tokens', 'output_tokens', 'cached_read_tokens', 'cache_write_tokens', 'latency_sum_ms', 'ttft_count', 'ttft_sum_ms'] as const

const COUNT_KEYS: (keyof Counts)[] = ['requests', 'errors', 'aborted', 'inputTokens', 'outputTokens', 'cachedReadTokens', 'cacheWriteTokens', 'latencySumMs', 'ttftCount', 'ttftSumMs']

/** Running sums of a group or of the grand total. */
interface Accumulator {
  key: string | null
  counts: number[]
  cost: bigint
  market: bigint
}

function add(a: Accumulator, n: Counts, cost: bigint, market: bigint): void {
  const c = a.counts
  c[0] += n.requests
  c[1] += n.errors
  c[2] += n.aborted
  c[3] += n.inputTokens
  c[4] += n.outputTokens
  c[5] += n.cachedReadTokens
  c[6] += n.cacheWriteTokens
  c[7] += n.latencySumMs
  c[8] += n.ttftCount
  c[9] += n.ttftSumMs
  a.cost += cost
  a.market += market
}

/**
 * The totals line of an accumulator. Counts summed as numbers are exact below 2^53; past it (never
 * seen in practice) they are summed again as bigints from the cells it covers, so the figure is the
 * exact sum rounded once, as everywhere else.
 */
function lineOf(a: Accumulator, cells: () => string[][]): SeriesLine {
  const sums = a.counts.every(Number.isSafeInteger) ? a.counts : COUNT_KEYS.map((_, i) => Number(cells().reduce((s, v) => s + BigInt(v[i]), 0n)))
  const counts = Object.fromEntries(COUNT_KEYS.map((k, i) => [k, sums[i]])) as unknown as Counts
  return { bucket: -1, key: a.key, totals: totalsFrom(counts, formatPicoUsd(a.cost), formatPicoUsd(a.market), formatPicoUsd(a.market - a.cost)), cost: a.cost }
}

/**
 * A time series of one grouping (or none) with the totals every view shows. The database adds up
 * each cell and formats its money (numeric sums scaled by 10^-12 and trimmed: the same text as
 * formatPicoUsd); Node parses ten numbers and three strings per cell instead of a dozen BigInts
 * (a year by model is 10,950 cells), and adds the cells up into the group and grand totals —
 * counts as numbers (summed again as bigints in the unlikely case one passes 2^53), money as bigints.
 * (Grouping sets in the statement did the totals too, but a sort-based aggregate there cost more
 * than the additions here.)
 */
export async function querySeries(em: TxEntityManager, q: CubeQuery & { groupBy: readonly Dim[] }): Promise<Series> {
  if (q.groupBy.length > 1 || q.histograms) throw new Error('querySeries: at most one grouping, sums only')
  const src = sourceOf(q)
  const empty = (key: string | null): Accumulator => ({ key, counts: COUNT_KEYS.map(() => 0), cost: 0n, market: 0n })
  if (!src) return { cells: [], groups: [], total: lineOf(empty(null), () => []) }
  const dim = q.groupBy[0]
  const sum = (m: string) => `sum(u.${m} * u.sign)`
  const usd = (expr: string) => `trim_scale((${expr}) * 0.000000000001)`
  const measures = [...COUNTS.map(sum), sum('cost'), sum('market_cost'), usd(sum('cost')), usd(sum('market_cost')), usd(`${sum('market_cost')} - ${sum('cost')}`)]
  const sql = `${src.with}select u.b as bucket, ${dim ? `u.${dim}::text` : 'null::text'} as key, concat_ws(',', ${measures.join(', ')}) as m
      from ${src.from} group by 1${dim ? ', 2' : ''}`
  const rows = await em.execute<{ bucket: number; key: string | null; m: string }[]>(sql, src.params, 'all')
  const cells: SeriesLine[] = []
  const groups = new Map<string | null, Accumulator>()
  const total = empty(null)
  for (const r of rows) {
    const v = r.m.split(',')
    // With subtracted rows, a group can net to nothing in a bucket (it had no requests there).
    if (v[0] === '0') continue
    const key = r.key ?? null
    const counts: Counts = {
      requests: Number(v[0]),
      errors: Number(v[1]),
      aborted: Number(v[2]),
      inputTokens: Number(v[3]),
      outputTokens: Number(v[4]),
      cachedReadTokens: Number(v[5]),
      cacheWriteTokens: Number(v[6]),
      latencySumMs: Number(v[7]),
      ttftCount: Number(v[8]),
      ttftSumMs: Number(v[9]),
    }
    cells.push({ bucket: Number(r.bucket), key, totals: totalsFrom(counts, v[12], v[13], v[14]), cost: 0n })
    let group = groups.get(key)
    if (!group) {
      group = empty(key)
      groups.set(key, group)
    }
    const cost = BigInt(v[10])
    const market = BigInt(v[11])
    add(group, counts, cost, market)
    add(total, counts, cost, market)
  }
  // Only for the exact fallback past 2^53: the cells' texts again, from the rows still at hand.
  const cellsOf = (key?: string | null) => () =>
    rows
      .filter((r) => key === undefined || (r.key ?? null) === key)
      .map((r) => r.m.split(','))
      .filter((v) => v[0] !== '0')
  return { cells, groups: [...groups.values()].map((g) => lineOf(g, cellsOf(g.key))), total: lineOf(total, cellsOf()) }
}
