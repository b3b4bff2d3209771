import type { UsageEvent } from '@tollgate/core'
import { localDateLabel } from '../time/zone.js'
import { CUBES, type CubeName, DIM_TYPES, type Dim, GRAINS, histogramIndex, LATENCY_BOUNDS_MS, SUM_MEASURES, TTFT_BOUNDS_MS } from './cubes.js'

/** One rollup row of a batch, before it is added to the stored row of the same key. */
export interface RollupRow {
  organizationId: string
  grain: number
  /** Start of the bucket, ms since the epoch (a multiple of the grain). */
  bucketStart: number
  dims: Partial<Record<Dim, string | null>>
  /** SUM_MEASURES then, for histogram cubes, the latency and TTFT bucket counts. */
  sums: bigint[]
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
  sums: bigint[]
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

/** One event's contribution to every measure, in column order. */
function contribution(e: UsageEvent): bigint[] {
  const v = new Array<bigint>(VECTOR_LENGTH).fill(0n)
  const values: Record<(typeof SUM_MEASURES)[number], bigint> = {
    requests: 1n,
    errors: isError(e) ? 1n : 0n,
    aborted: isAborted(e) ? 1n : 0n,
    input_tokens: BigInt(e.inputTokens),
    output_tokens: BigInt(e.outputTokens),
    cached_read_tokens: BigInt(e.cachedReadTokens),
    cache_write_tokens: BigInt(e.cacheWriteTokens),
    cost: e.cost,
    market_cost: e.marketCost,
    latency_sum_ms: BigInt(Math.max(0, Math.round(e.latencyMs))),
    ttft_count: e.ttftMs === undefined ? 0n : 1n,
    ttft_sum_ms: e.ttftMs === undefined ? 0n : BigInt(Math.max(0, Math.round(e.ttftMs))),
  }
  SUM_MEASURES.forEach((m, i) => {
    v[i] = values[m]
  })
  v[LATENCY_OFFSET + histogramIndex(LATENCY_BOUNDS_MS, e.latencyMs)] = 1n
  if (e.ttftMs !== undefined) v[TTFT_OFFSET + histogramIndex(TTFT_BOUNDS_MS, e.ttftMs)] = 1n
  return v
}

/** A dimension's value for an event; a malformed id (never expected from core) is kept out of the uuid columns. */
function dimValue(e: UsageEvent, d: Dim): string | null {
  const raw = { project_id: e.projectId, api_key_id: e.apiKeyId, user_id: e.userId, provider: e.provider, model: e.model, app_name: e.appName }[d]
  if (raw === undefined || raw === '') return null
  if (DIM_TYPES[d] === 'uuid' && !UUID.test(raw)) return null
  return raw
}

/** Adds an event's vector into a row (sums, and the maxima). */
function addInto(row: { sums: bigint[]; latencyMax: number; ttftMax: number }, vector: bigint[], width: number, latency: number, ttft: number): void {
  for (let i = 0; i < width; i++) row.sums[i] += vector[i]
  if (latency > row.latencyMax) row.latencyMax = latency
  if (ttft > row.ttftMax) row.ttftMax = ttft
}

/**
 * Adds a batch of events up into rows per cube, grain, bucket and dimension values, so one
 * upsert per cube writes the batch however many events share a row; and, for each zone in
 * `zones`, into rows per cube, zone, local date and dimension values (the local-day tier).
 */
export function aggregate(events: readonly UsageEvent[], zones: readonly string[] = []): Aggregated {
  const byCube = new Map<CubeName, Map<string, RollupRow>>()
  const byDay = new Map<CubeName, Map<string, LocalDayRow>>()
  for (const cube of Object.keys(CUBES) as CubeName[]) {
    byCube.set(cube, new Map())
    byDay.set(cube, new Map())
  }
  // A local date is constant within a 15-minute UTC bucket (every local day starts on one):
  // formatted once per zone and bucket, not per event.
  const dates = new Map<string, string>()
  const dateOf = (zone: string, at: number): string => {
    const quarter = Math.floor(at / QUARTER_MS) * QUARTER_MS
    const k = `${zone}\u0001${quarter}`
    let d = dates.get(k)
    if (d === undefined) {
      d = localDateLabel(zone, quarter)
      dates.set(k, d)
    }
    return d
  }
  for (const e of events) {
    const vector = contribution(e)
    const at = e.occurredAt.getTime()
    const latency = Math.max(0, Math.round(e.latencyMs))
    const ttft = e.ttftMs === undefined ? 0 : Math.max(0, Math.round(e.ttftMs))
    for (const [cube, rows] of byCube) {
      const def = CUBES[cube]
      const dims: Partial<Record<Dim, string | null>> = {}
      for (const d of def.dims) dims[d] = dimValue(e, d)
      const dimKey = def.dims.map((d) => dims[d] ?? '\u0000').join('\u0001')
      const width = def.histograms ? VECTOR_LENGTH : LATENCY_OFFSET
      for (const grain of GRAINS) {
        const bucketStart = Math.floor(at / (grain * 1000)) * grain * 1000
        const key = `${e.organizationId}\u0001${grain}\u0001${bucketStart}\u0001${dimKey}`
        let row = rows.get(key)
        if (!row) {
          row = { organizationId: e.organizationId, grain, bucketStart, dims, sums: new Array<bigint>(width).fill(0n), latencyMax: 0, ttftMax: 0 }
          rows.set(key, row)
        }
        addInto(row, vector, width, latency, ttft)
      }
      const dayRows = byDay.get(cube) as Map<string, LocalDayRow>
      for (const timeZone of zones) {
        const day = dateOf(timeZone, at)
        const key = `${e.organizationId}\u0001${timeZone}\u0001${day}\u0001${dimKey}`
        let row = dayRows.get(key)
        if (!row) {
          row = { organizationId: e.organizationId, timeZone, day, dims, sums: new Array<bigint>(width).fill(0n), latencyMax: 0, ttftMax: 0 }
          dayRows.set(key, row)
        }
        addInto(row, vector, width, latency, ttft)
      }
    }
  }
  return {
    grains: new Map([...byCube].map(([cube, rows]) => [cube, [...rows.values()]])),
    localDays: new Map([...byDay].map(([cube, rows]) => [cube, [...rows.values()]])),
  }
}
