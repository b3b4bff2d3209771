import type { TxEntityManager } from '@tollgate/core'
import { CUBES, type Dim } from '../rollup/cubes.js'
import { COUNT_COLUMNS, formatPicoUsd, type Totals, totalsFrom } from './measures.js'
import { PACKED_COUNTS, PicoSum, readCounts } from './packed-measures.js'
import { type CubeQuery, sourceFrom, sourceOf } from './rollup-query.js'

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

/** A group's totals over the range, and its cells by bucket index (undefined: no requests in that bucket). */
export interface SeriesGroup<C> extends SeriesLine {
  cells: (C | undefined)[]
}

/** A series with its per-group and grand totals. */
export interface Series<C> {
  groups: SeriesGroup<C>[]
  total: SeriesLine
}

/**
 * Builds a cell as the caller shows it, from its bucket index, group, counts (`counts[at … at + 9]`,
 * in the packed order: requests, errors, aborted, input, output, cached read and cache write
 * tokens, latency sum, TTFT count, TTFT sum) and money formatted as USD.
 */
export type CellBuilder<C> = (bucket: number, key: string | null, counts: ArrayLike<number>, at: number, cost: string, marketCost: string, savings: string) => C

/** Running sums of a group, of the grand total, or of a cell that several rows add to. */
interface Accumulator {
  key: string | null
  counts: number[]
  cost: PicoSum
  market: PicoSum
}

/** A cell that several rows add to: its sums and those rows (for the exact fallback past 2^53). */
interface MergedCell extends Accumulator {
  rows: string[]
}

function addCounts(a: number[], b: ArrayLike<number>, at: number): void {
  for (let i = 0; i < PACKED_COUNTS; i++) a[i] += b[at + i]
}

/**
 * The counts of an accumulator. Counts summed as numbers are exact below 2^53; past it (never seen
 * in practice) they are summed again as bigints from the rows they cover, so the figure is the
 * exact sum rounded once, as everywhere else.
 */
function countsOfSum(a: Accumulator, rows: () => string[]): number[] {
  if (a.counts.every(Number.isSafeInteger)) return a.counts
  const parsed = rows().map((m) => m.split(','))
  return COUNT_COLUMNS.map((_, i) => Number(parsed.reduce((s, v) => s + BigInt(v[i]), 0n)))
}

/** Cost, market cost and savings of an accumulator as USD texts. */
function moneyOfSum(a: Accumulator): [cost: string, marketCost: string, savings: string] {
  const cost = a.cost.value()
  const market = a.market.value()
  return [formatPicoUsd(cost), formatPicoUsd(market), formatPicoUsd(market - cost)]
}

/** A group's or the grand total's line. */
function lineOf(a: Accumulator, rows: () => string[]): SeriesLine {
  return { bucket: -1, key: a.key, totals: totalsFrom(countsOfSum(a, rows), 0, ...moneyOfSum(a)), cost: a.cost.value() }
}

/**
 * A time series of one grouping (or none) with the totals every view shows.
 *
 * The database sends a row per cell (rarely a few), its measures packed in one text (ten counts, cost and market
 * cost in picodollars, and the three USD amounts formatted by the database: numeric scaled by 10^-12
 * and trimmed, the same text as formatPicoUsd). The grain rows are added up per cell in the
 * statement. The local-day tier's rows are sent as they are when they already are one per cell (a
 * daily series grouped by the tier's own dimension: grouping 10,950 rows with twelve sums cost the
 * database more than twice what reading them did), and added up in the statement otherwise. Node
 * adds the few cells that still arrive in several rows (an edge and its day, one model served by
 * two providers), and adds every cell into its group's and the grand totals — counts as numbers
 * (summed again as bigints in the unlikely case one passes 2^53), money exactly (PicoSum).
 */
export async function querySeries<C>(em: TxEntityManager, q: CubeQuery & { groupBy: readonly Dim[] }, builder: CellBuilder<C> | Promise<CellBuilder<C>>): Promise<Series<C>> {
  if (q.groupBy.length > 1 || q.histograms) throw new Error('querySeries: at most one grouping, sums only')
  const src = sourceOf(q)
  const empty = (key: string | null): Accumulator => ({ key, counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], cost: new PicoSum(), market: new PicoSum() })
  const total = empty(null)
  if (!src) return { groups: [], total: lineOf(total, () => []) }
  const dim = q.groupBy[0]
  const key = dim ? `u.${dim}::text` : 'null::text'
  const usd = (expr: string) => `trim_scale((${expr}) * 0.000000000001)`
  // One row's packed measures from a column expression: ten counts, cost and market cost in picodollars, the three USD texts.
  const packed = (col: (m: string) => string) =>
    `select u.b as bucket, ${key} as key, concat_ws(',', ${[...COUNT_COLUMNS.map(col), col('cost'), col('market_cost'), usd(col('cost')), usd(col('market_cost')), usd(`${col('market_cost')}::numeric - ${col('cost')}`)].join(', ')}) as m`
  const grouped = packed((m) => `sum(u.${m} * u.sign)`)
  const asIs = packed((m) => `u.${m}`)
  const groupBy = `group by 1${dim ? ', 2' : ''}`
  // The tier's rows are one per day and cube dimension values; sent as they are when the grouping
  // leaves at most the provider of a model aside (a model is almost always served by one provider).
  const rowPerCell = (CUBES[q.cube].dims as readonly Dim[]).every((d) => d === dim || (d === 'provider' && dim === 'model'))
  const days = src.days && sourceFrom(src, src.days)
  const daysSql = days ? ` union all ${rowPerCell ? `${asIs} from ${days}` : `${grouped} from ${days} ${groupBy}`}` : ''
  const sql = `${src.with}${grouped} from ${sourceFrom(src, src.grain)} ${groupBy}${daysSql}`
  const rows = await em.execute<{ bucket: number; key: string | null; m: string }[]>(sql, src.params, 'all')

  const buckets = q.boundaries.length - 1
  // Per row, in flat arrays (a year by model is 10,950 rows: no object per row to collect): its
  // counts, and where its cost and its USD texts start in its packed text.
  const n = rows.length
  const counts = new Float64Array(n * PACKED_COUNTS)
  const costAt = new Int32Array(n)
  const usdAt = new Int32Array(n)
  // Per group, the row of each bucket's cell (-1: none yet); cells of several rows apart.
  const groups = new Map<string | null, Accumulator & { cellRow: Int32Array }>()
  const merged = new Map<number, MergedCell>()
  // One row's money, read once and added to its group, the grand total and (rarely) its cell.
  const cost = new PicoSum()
  const market = new PicoSum()
  for (let r = 0; r < n; r++) {
    const row = rows[r]
    const m = row.m
    const at = r * PACKED_COUNTS
    const start = readCounts(m, counts, at)
    // With subtracted rows, a group can net to nothing in a bucket (it had no requests there).
    if (counts[at] === 0) continue
    cost.reset()
    market.reset()
    costAt[r] = start
    usdAt[r] = market.addText(m, cost.addText(m, start))
    const k = row.key ?? null
    let group = groups.get(k)
    if (!group) {
      group = { ...empty(k), cellRow: new Int32Array(buckets).fill(-1) }
      groups.set(k, group)
    }
    addCounts(group.counts, counts, at)
    group.cost.addSum(cost)
    group.market.addSum(market)
    addCounts(total.counts, counts, at)
    total.cost.addSum(cost)
    total.market.addSum(market)
    const b = Number(row.bucket)
    const first = group.cellRow[b]
    if (first === -1) {
      group.cellRow[b] = r
      continue
    }
    // A second row of the cell: its sums start from the first row, read again.
    let cell = merged.get(first)
    if (!cell) {
      const fm = rows[first].m
      cell = { ...empty(k), rows: [fm] }
      addCounts(cell.counts, counts, first * PACKED_COUNTS)
      cell.market.addText(fm, cell.cost.addText(fm, costAt[first]))
      merged.set(first, cell)
    }
    addCounts(cell.counts, counts, at)
    cell.cost.addSum(cost)
    cell.market.addSum(market)
    cell.rows.push(m)
  }
  // Only for the exact fallback past 2^53: the packed measures again, from the rows still at hand.
  const rowsOf = (k?: string | null) => () => rows.filter((r) => k === undefined || (r.key ?? null) === k).map((r) => r.m)
  // The builder may wait on what the caller reads alongside (labels): awaited once the rows are here.
  const cellOf = await builder
  const lines: SeriesGroup<C>[] = []
  for (const g of groups.values()) {
    const cells: (C | undefined)[] = new Array(buckets)
    for (let b = 0; b < buckets; b++) {
      const r = g.cellRow[b]
      if (r === -1) continue
      const sums = merged.size === 0 ? undefined : merged.get(r)
      if (!sums) {
        const m = rows[r].m
        const u = usdAt[r]
        const a = m.indexOf(',', u)
        const z = m.indexOf(',', a + 1)
        cells[b] = cellOf(b, g.key, counts, r * PACKED_COUNTS, m.slice(u, a), m.slice(a + 1, z), m.slice(z + 1))
      } else if (sums.counts[0] !== 0) {
        cells[b] = cellOf(b, g.key, countsOfSum(sums, () => sums.rows), 0, ...moneyOfSum(sums))
      }
    }
    lines.push({ ...lineOf(g, rowsOf(g.key)), cells })
  }
  return { groups: lines, total: lineOf(total, rowsOf()) }
}
