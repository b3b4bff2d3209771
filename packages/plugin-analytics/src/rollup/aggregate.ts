import type { UsageEvent } from '@tollgate/core'
import { localDateLabel } from '../time/zone.js'
import { CUBES, type CubeName, type Dim, GRAINS, histogramIndex, LATENCY_BOUNDS_MS, SUM_MEASURES, TTFT_BOUNDS_MS } from './cubes.js'

/** One rollup row of a batch, before it is added to the stored row of the same key. */
export interface RollupRow {
  organizationId: string
  grain: number
  /** Start of the bucket, ms since the epoch (a multiple of the grain). */
  bucketStart: number
  dims: Partial<Record<Dim, string | null>>
  /** SUM_MEASURES then, for histogram cubes, the latency and TTFT bucket counts (money as bigint picodollars, counts as integers). */
  sums: (bigint | number)[]
  latencyMax: number
  ttftMax: number
}

/** One local-day row of a batch (the local-day tier): the same measures, keyed by zone and local date. */
export interface LocalDayRow {
  organizationId: string
  timeZone: string
  /** The local calendar date, "2026-03-08". */
  day: string
  dims: Partial<Record<Dim, string | null>>
  sums: (bigint | number)[]
  latencyMax: number
  ttftMax: number
}

/** A batch added up: rows per cube at every grain, and per cube for every local-day zone. */
export interface Aggregated {
  grains: Map<CubeName, RollupRow[]>
  localDays: Map<CubeName, LocalDayRow[]>
}

const QUARTER_MS = 900_000
const LATENCY_OFFSET = SUM_MEASURES.length
const TTFT_OFFSET = LATENCY_OFFSET + LATENCY_BOUNDS_MS.length + 1
const VECTOR_LENGTH = TTFT_OFFSET + TTFT_BOUNDS_MS.length + 1
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A client abort (the gateway records status 499) is counted apart from errors. */
export function isAborted(e: Pick<UsageEvent, 'status'>): boolean {
  return e.status === 499
}

/** An error: a status of 400 or more, or an error code on a request that was not aborted (a stream that failed after its 200). */
export function isError(e: Pick<UsageEvent, 'status' | 'errorCode'>): boolean {
  return !isAborted(e) && (e.status >= 400 || e.errorCode !== undefined)
}

/**
 * What one event adds to a row, computed once per event: counts and token/latency sums as
 * numbers (exact: a batch's sums stay far below 2^53), money as bigint picodollars (exact at any
 * size), and the histogram bucket each timing falls in.
 */
interface Contribution {
  /** SUM_MEASURES in order, with 0 at the two money positions (kept in cost/marketCost). */
  counts: number[]
  cost: bigint
  marketCost: bigint
  latencyBucket: number
  /** -1 when the request had no time to first token. */
  ttftBucket: number
  latency: number
  ttft: number
}

const COST_INDEX = SUM_MEASURES.indexOf('cost')
const MARKET_COST_INDEX = SUM_MEASURES.indexOf('market_cost')
const HISTOGRAM_WIDTH = VECTOR_LENGTH - LATENCY_OFFSET

function contribution(e: UsageEvent): Contribution {
  const ttftKnown = e.ttftMs !== undefined
  const latency = Math.max(0, Math.round(e.latencyMs))
  const ttft = ttftKnown ? Math.max(0, Math.round(e.ttftMs as number)) : 0
  const values: Record<(typeof SUM_MEASURES)[number], number> = {
    requests: 1,
    errors: isError(e) ? 1 : 0,
    aborted: isAborted(e) ? 1 : 0,
    input_tokens: e.inputTokens,
    output_tokens: e.outputTokens,
    cached_read_tokens: e.cachedReadTokens,
    cache_write_tokens: e.cacheWriteTokens,
    cost: 0,
    market_cost: 0,
    latency_sum_ms: latency,
    ttft_count: ttftKnown ? 1 : 0,
    ttft_sum_ms: ttft,
  }
  return {
    counts: SUM_MEASURES.map((m) => values[m]),
    cost: e.cost,
    marketCost: e.marketCost,
    latencyBucket: histogramIndex(LATENCY_BOUNDS_MS, e.latencyMs),
    ttftBucket: ttftKnown ? histogramIndex(TTFT_BOUNDS_MS, e.ttftMs as number) : -1,
    latency,
    ttft,
  }
}

/** A row being summed: numbers and bigint money while the batch is added up, bigint sums at the end. */
interface Accumulator {
  counts: number[]
  cost: bigint
  marketCost: bigint
  /** Latency then TTFT bucket counts (histogram cubes only). */
  histogram: number[] | undefined
  latencyMax: number
  ttftMax: number
}

function newAccumulator(histograms: boolean): Accumulator {
  return { counts: new Array<number>(SUM_MEASURES.length).fill(0), cost: 0n, marketCost: 0n, histogram: histograms ? new Array<number>(HISTOGRAM_WIDTH).fill(0) : undefined, latencyMax: 0, ttftMax: 0 }
}

function addInto(a: Accumulator, c: Contribution): void {
  const counts = a.counts
  for (let i = 0; i < counts.length; i++) counts[i] += c.counts[i]
  a.cost += c.cost
  a.marketCost += c.marketCost
  if (a.histogram) {
    a.histogram[c.latencyBucket]++
    if (c.ttftBucket >= 0) a.histogram[TTFT_OFFSET - LATENCY_OFFSET + c.ttftBucket]++
  }
  if (c.latency > a.latencyMax) a.latencyMax = c.latency
  if (c.ttft > a.ttftMax) a.ttftMax = c.ttft
}

/**
 * The stored row's sums, in column order: SUM_MEASURES, then the histogram buckets of histogram
 * cubes. Money stays bigint; counts stay numbers (no BigInt per column and row: the upsert only
 * prints them), exact because a batch's sums are integers far below 2^53, which is checked.
 */
function sumsOf(a: Accumulator): (bigint | number)[] {
  const sums: (bigint | number)[] = a.counts.slice()
  sums[COST_INDEX] = a.cost
  sums[MARKET_COST_INDEX] = a.marketCost
  if (a.histogram) for (const n of a.histogram) sums.push(n)
  for (const v of sums) if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`rollup sum ${v} is not an exact integer`)
  return sums
}

/** Every dimension's value for an event; a malformed id (never expected from core) is kept out of the uuid columns. */
function dimValues(e: UsageEvent): Record<Dim, string | null> {
  return {
    project_id: uuidOrNull(e.projectId),
    api_key_id: uuidOrNull(e.apiKeyId),
    user_id: uuidOrNull(e.userId),
    provider: e.provider || null,
    model: e.model || null,
    app_name: e.appName || null,
  }
}

function uuidOrNull(raw: string | undefined): string | null {
  return raw && UUID.test(raw) ? raw : null
}

/** A cube's dimension columns with their values for one event: shared by the event's rows of that cube. */
function dimsOf(all: Record<Dim, string | null>, dims: readonly Dim[]): Partial<Record<Dim, string | null>> {
  const out: Partial<Record<Dim, string | null>> = {}
  for (const d of dims) out[d] = all[d]
  return out
}

/** A row of the batch being summed, with what identifies it. */
interface Slot<R> {
  row: R
  acc: Accumulator
}

type GrainRowHead = Omit<RollupRow, 'sums' | 'latencyMax' | 'ttftMax'>
type DayRowHead = Omit<LocalDayRow, 'sums' | 'latencyMax' | 'ttftMax'>

/** The CUBES entries, resolved once (the loop below runs per event). */
const CUBE_LIST = (Object.keys(CUBES) as CubeName[]).map((name) => ({ name, dims: CUBES[name].dims as readonly Dim[], histograms: CUBES[name].histograms }))

/** The key of an event's dimension values in a cube (organization first: rows never mix organizations). */
function groupKey(org: string, all: Record<Dim, string | null>, dims: readonly Dim[]): string {
  let k = org
  for (const d of dims) k += `\u0001${all[d] ?? '\u0000'}`
  return k
}

function finish<R>(slots: Iterable<Slot<R>>): (R & { sums: (bigint | number)[]; latencyMax: number; ttftMax: number })[] {
  const out: (R & { sums: (bigint | number)[]; latencyMax: number; ttftMax: number })[] = []
  for (const { row, acc } of slots) out.push({ ...row, sums: sumsOf(acc), latencyMax: acc.latencyMax, ttftMax: acc.ttftMax })
  return out
}

/**
 * Adds a batch of events up into rows per cube, grain, bucket and dimension values, so one
 * upsert per cube writes the batch however many events share a row; and, for each zone in
 * `zones`, into rows per cube, zone, local date and dimension values (the local-day tier).
 */
export function aggregate(events: readonly UsageEvent[], zones: readonly string[] = []): Aggregated {
  // Per cube: for each grain a map by bucket start, then by the event's group key (one key
  // string per cube and event, shared by the four grains and every zone).
  const grainRows = CUBE_LIST.map(() => GRAINS.map(() => new Map<number, Map<string, Slot<GrainRowHead>>>()))
  const dayRows = CUBE_LIST.map(() => zones.map(() => new Map<string, Map<string, Slot<DayRowHead>>>()))
  // A local date is constant within a 15-minute UTC bucket (every local day starts on one):
  // looked up once per zone and bucket, not per event.
  let quarterOfDays = Number.NaN
  let daysOfQuarter: string[] = []
  for (const e of events) {
    const c = contribution(e)
    const at = e.occurredAt.getTime()
    const org = e.organizationId
    const quarter = Math.floor(at / QUARTER_MS) * QUARTER_MS
    if (quarter !== quarterOfDays && zones.length > 0) {
      quarterOfDays = quarter
      daysOfQuarter = zones.map((zone) => localDateLabel(zone, quarter))
    }
    const all = dimValues(e)
    for (let ci = 0; ci < CUBE_LIST.length; ci++) {
      const cube = CUBE_LIST[ci]
      const key = groupKey(org, all, cube.dims)
      let dims: Partial<Record<Dim, string | null>> | undefined
      for (let gi = 0; gi < GRAINS.length; gi++) {
        const grain = GRAINS[gi]
        const bucketStart = Math.floor(at / (grain * 1000)) * grain * 1000
        const byBucket = grainRows[ci][gi]
        let rows = byBucket.get(bucketStart)
        if (!rows) {
          rows = new Map()
          byBucket.set(bucketStart, rows)
        }
        let slot = rows.get(key)
        if (!slot) {
          dims ??= dimsOf(all, cube.dims)
          slot = { row: { organizationId: org, grain, bucketStart, dims }, acc: newAccumulator(cube.histograms) }
          rows.set(key, slot)
        }
        addInto(slot.acc, c)
      }
      for (let zi = 0; zi < zones.length; zi++) {
        const day = daysOfQuarter[zi]
        const byDay = dayRows[ci][zi]
        let rows = byDay.get(day)
        if (!rows) {
          rows = new Map()
          byDay.set(day, rows)
        }
        let slot = rows.get(key)
        if (!slot) {
          dims ??= dimsOf(all, cube.dims)
          slot = { row: { organizationId: org, timeZone: zones[zi], day, dims }, acc: newAccumulator(cube.histograms) }
          rows.set(key, slot)
        }
        addInto(slot.acc, c)
      }
    }
  }
  const grains = new Map<CubeName, RollupRow[]>()
  const localDays = new Map<CubeName, LocalDayRow[]>()
  CUBE_LIST.forEach((cube, ci) => {
    grains.set(cube.name, grainRows[ci].flatMap((byBucket) => [...byBucket.values()].flatMap((rows) => finish(rows.values()))))
    localDays.set(cube.name, dayRows[ci].flatMap((byDay) => [...byDay.values()].flatMap((rows) => finish(rows.values()))))
  })
  return { grains, localDays }
}
