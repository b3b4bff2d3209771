import { histogramColumns, LATENCY_BOUNDS_MS, SUM_MEASURES, TTFT_BOUNDS_MS } from '../rollup/cubes.js'

/** Summed measures keyed by column name. */
export type Sums = Record<string, bigint>

/** Adds b into a (in place) and returns a. */
export function addSums(a: Sums, b: Sums): Sums {
  for (const k in b) a[k] = (a[k] ?? 0n) + b[k]
  return a
}

/**
 * Picodollars as an exact USD decimal string ("0.00000015"), the same text as core's formatUsd,
 * by slicing the integer's digits instead of dividing: a year's series formats 30,000 amounts.
 */
export function formatPicoUsd(value: bigint): string {
  const negative = value < 0n
  const digits = (negative ? -value : value).toString()
  const whole = digits.length > 12 ? digits.slice(0, -12) : '0'
  let frac = digits.length > 12 ? digits.slice(-12) : digits.padStart(12, '0')
  let end = frac.length
  while (end > 0 && frac.charCodeAt(end - 1) === 48) end--
  frac = frac.slice(0, end)
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`
}

/** All-zero sums. */
export function zeroSums(): Sums {
  return Object.fromEntries(SUM_MEASURES.map((m) => [m, 0n]))
}

/** The totals every view shows: money as exact USD decimal strings, counts as numbers. */
export interface Totals {
  cost: string
  marketCost: string
  /** Market cost minus cost: what routing through this gateway saved. */
  savings: string
  requests: number
  errors: number
  aborted: number
  /** errors / requests, 0 when there were none. */
  errorRate: number
  inputTokens: number
  outputTokens: number
  cachedReadTokens: number
  cacheWriteTokens: number
  /** Input plus output tokens. */
  tokens: number
  avgLatencyMs: number | null
  avgTtftMs: number | null
}

const n = (v: bigint | undefined) => Number(v ?? 0n)

/**
 * The count columns, in the order every counts array here holds them (a packed series row, a
 * series accumulator): exact below 2^53, like the numbers the views show.
 */
export const COUNT_COLUMNS = ['requests', 'errors', 'aborted', 'input_tokens', 'output_tokens', 'cached_read_tokens', 'cache_write_tokens', 'latency_sum_ms', 'ttft_count', 'ttft_sum_ms'] as const

/** Errors per request, to six places (0 without requests). */
const errorRateOf = (requests: number, errors: number) => (requests === 0 ? 0 : round(errors / requests, 6))
/** A mean to one decimal place (null over nothing). */
const meanOf = (sum: number, count: number) => (count === 0 ? null : round(sum / count, 1))

/** One cell of an activity series as shown: its bucket and group, then its totals. */
export interface SeriesCell extends Totals {
  bucketStart: string
  bucketLabel: string
  key: string | null
  label: string
}

/**
 * Totals from counts `c[at … at + 9]` (in COUNT_COLUMNS order) and money already formatted as USD:
 * the one place the derived figures are computed. `head`'s fields come first in the object (a
 * series cell's bucket and group): a year by model builds 10,950 cells, each as one object.
 */
export function totalsFrom<H extends object = Record<never, never>>(c: ArrayLike<number>, at: number, cost: string, marketCost: string, savings: string, head?: H): H & Totals {
  const requests = c[at]
  const errors = c[at + 1]
  const inputTokens = c[at + 3]
  const outputTokens = c[at + 4]
  return {
    ...(head as H),
    cost,
    marketCost,
    savings,
    requests,
    errors,
    aborted: c[at + 2],
    errorRate: errorRateOf(requests, errors),
    inputTokens,
    outputTokens,
    cachedReadTokens: c[at + 5],
    cacheWriteTokens: c[at + 6],
    tokens: inputTokens + outputTokens,
    avgLatencyMs: meanOf(c[at + 7], requests),
    avgTtftMs: meanOf(c[at + 9], c[at + 8]),
  }
}

/** Totals of summed measures. */
export function totalsOf(s: Sums): Totals {
  const cost = s.cost ?? 0n
  const market = s.market_cost ?? 0n
  return totalsFrom(
    COUNT_COLUMNS.map((m) => n(s[m])),
    0,
    formatPicoUsd(cost),
    formatPicoUsd(market),
    formatPicoUsd(market - cost),
  )
}

/** Cost per 1,000 tokens (input plus output), exact to the picodollar, as USD; null without tokens. */
export function costPer1kTokens(s: Sums): string | null {
  const tokens = (s.input_tokens ?? 0n) + (s.output_tokens ?? 0n)
  if (tokens === 0n) return null
  return formatPicoUsd(((s.cost ?? 0n) * 1000n) / tokens)
}

function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** Percentiles read from a histogram. */
export interface Percentiles {
  count: number
  p50: number | null
  p90: number | null
  p95: number | null
  p99: number | null
  max: number | null
}

/**
 * Percentiles of a latency or TTFT histogram: the bucket holding the rank, interpolated linearly
 * inside it (the last, open bucket ends at the largest value seen). Accurate to the bucket width.
 */
export function percentilesOf(kind: 'latency' | 'ttft', s: Sums, max: number): Percentiles {
  const bounds = kind === 'latency' ? LATENCY_BOUNDS_MS : TTFT_BOUNDS_MS
  const counts = histogramColumns(kind).map((c) => n(s[c]))
  const total = counts.reduce((a, b) => a + b, 0)
  const at = (p: number): number | null => {
    if (total === 0) return null
    const rank = Math.max(1, Math.ceil(p * total))
    let seen = 0
    for (let k = 0; k < counts.length; k++) {
      if (seen + counts[k] >= rank) {
        const lower = k === 0 ? 0 : bounds[k - 1]
        const upper = Math.min(k < bounds.length ? bounds[k] : Math.max(max, lower), Math.max(max, lower))
        return Math.round(lower + ((upper - lower) * (rank - seen)) / counts[k])
      }
      seen += counts[k]
    }
    return max
  }
  return { count: total, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), max: total === 0 ? null : max }
}
