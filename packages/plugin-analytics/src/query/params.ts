import { invalidQuery } from '../errors.js'
import { dayStartsBetween, hourStartsBetween, isTimeZone, localToUtc } from '../time/zone.js'

const QUARTER_MS = 900_000
const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const LOCAL_DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?$/
const ZONED_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/

/** The windows the API accepts, in ms. */
export const WINDOWS: Record<string, number> = {
  '1h': HOUR_MS,
  '4h': 4 * HOUR_MS,
  '12h': 12 * HOUR_MS,
  '1d': DAY_MS,
  '7d': 7 * DAY_MS,
  '30d': 30 * DAY_MS,
  '90d': 90 * DAY_MS,
  '365d': 365 * DAY_MS,
}

/** Longest range of any query, and of an hourly series. */
export const MAX_RANGE_DAYS = 400
export const MAX_HOURLY_DAYS = 31

/** Bucket size of a time series. */
export type Granularity = 'hour' | 'day'

/** A resolved time range: 15-minute-aligned UTC instants, the zone, and the series buckets. */
export interface TimeRange {
  from: number
  to: number
  timeZone: string
  granularity: Granularity
  /** Bucket boundaries: from, every local day or hour start inside, to. */
  boundaries: number[]
  window?: string
}

/** A query string as fastify parsed it. */
export type Query = Record<string, unknown>

/** A single string parameter, or undefined; a repeated parameter is an error. */
export function stringParam(query: Query, field: string): string | undefined {
  const v = query[field]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw invalidQuery(field, 'give it once, as a single value')
  return v
}

/** Rejects parameters the endpoint does not know (a misspelled `timezone` must not be silently ignored). */
export function rejectUnknown(query: Query, allowed: readonly string[]): void {
  for (const k of Object.keys(query)) if (!allowed.includes(k)) throw invalidQuery(k, `unknown parameter (this endpoint takes ${allowed.join(', ')})`)
}

/** A UUID parameter. */
export function uuidParam(query: Query, field: string, required: true): string
export function uuidParam(query: Query, field: string, required?: false): string | undefined
export function uuidParam(query: Query, field: string, required = false): string | undefined {
  const v = stringParam(query, field)
  if (v === undefined) {
    if (required) throw invalidQuery(field, 'is required')
    return undefined
  }
  if (!UUID.test(v)) throw invalidQuery(field, 'must be a UUID')
  return v.toLowerCase()
}

/** One of a fixed set of values. */
export function enumParam<T extends string>(query: Query, field: string, values: readonly T[], fallback?: T): T | undefined {
  const v = stringParam(query, field)
  if (v === undefined) return fallback
  if (!values.includes(v as T)) throw invalidQuery(field, `must be one of ${values.join(', ')}`)
  return v as T
}

/** A bounded positive integer. */
export function intParam(query: Query, field: string, min: number, max: number, fallback: number): number {
  const v = stringParam(query, field)
  if (v === undefined) return fallback
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw invalidQuery(field, `must be an integer from ${min} to ${max}`)
  return Number(v)
}

/**
 * An instant from `from`/`to`: a date is the start of that local day (for `to`, the end: the date
 * is included); a date-time without offset is local wall time; with `Z` or an offset it is exact.
 * Instants are widened to 15-minute boundaries (the rollups' finest grain): `from` down, `to` up.
 */
function instantParam(value: string, field: 'from' | 'to', timeZone: string): number {
  let t: number
  const d = DATE.exec(value)
  const l = LOCAL_DATETIME.exec(value)
  if (d) {
    const [y, m, day] = [Number(d[1]), Number(d[2]), Number(d[3])]
    if (!validDate(y, m, day)) throw invalidQuery(field, `${value} is not a calendar date`)
    const date = new Date(Date.UTC(y, m - 1, day + (field === 'to' ? 1 : 0)))
    t = localToUtc(timeZone, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())
  } else if (l) {
    const [y, m, day, h, mi] = [1, 2, 3, 4, 5].map((i) => Number(l[i]))
    if (!validDate(y, m, day) || h > 23 || mi > 59) throw invalidQuery(field, `${value} is not a valid date-time`)
    t = localToUtc(timeZone, y, m, day, h, mi) + Number(l[6] ?? 0) * 1000
  } else if (ZONED_DATETIME.test(value) && !Number.isNaN(Date.parse(value))) {
    t = Date.parse(value)
  } else {
    throw invalidQuery(field, 'must be a date (2026-06-01), a local date-time (2026-06-01T09:30) or an ISO 8601 instant (2026-06-01T07:30:00Z)')
  }
  return field === 'from' ? Math.floor(t / QUARTER_MS) * QUARTER_MS : Math.ceil(t / QUARTER_MS) * QUARTER_MS
}

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d))
  return y >= 2000 && y <= 9999 && t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d
}

/**
 * Resolves `from`/`to` or `window`, `timezone` and `granularity` into bucket boundaries. Either a
 * window (ending now, widened to the next 15 minutes) or from and to; not both.
 */
export function parseTimeRange(query: Query, now: number, defaults: { window: string }): TimeRange {
  const timeZone = stringParam(query, 'timezone') ?? 'UTC'
  if (!isTimeZone(timeZone)) throw invalidQuery('timezone', `"${timeZone}" is not an IANA time zone (e.g. Europe/Paris)`)
  const window = stringParam(query, 'window')
  const fromText = stringParam(query, 'from')
  const toText = stringParam(query, 'to')
  let from: number
  let to: number
  if (window !== undefined) {
    if (fromText !== undefined || toText !== undefined) throw invalidQuery('window', 'give either window or from/to, not both')
    const ms = WINDOWS[window]
    if (!ms) throw invalidQuery('window', `must be one of ${Object.keys(WINDOWS).join(', ')}`)
    to = Math.ceil(now / QUARTER_MS) * QUARTER_MS
    from = to - ms
  } else if (fromText !== undefined || toText !== undefined) {
    if (fromText === undefined) throw invalidQuery('from', 'is required with to')
    if (toText === undefined) throw invalidQuery('to', 'is required with from')
    from = instantParam(fromText, 'from', timeZone)
    to = instantParam(toText, 'to', timeZone)
    if (to <= from) throw invalidQuery('to', 'must be after from')
    if (to - from > MAX_RANGE_DAYS * DAY_MS) throw invalidQuery('to', `the range may cover at most ${MAX_RANGE_DAYS} days`)
  } else {
    to = Math.ceil(now / QUARTER_MS) * QUARTER_MS
    from = to - WINDOWS[defaults.window]
  }
  const span = to - from
  const granularity = (stringParam(query, 'granularity') ?? (span <= 2 * DAY_MS ? 'hour' : 'day')) as Granularity
  if (granularity !== 'hour' && granularity !== 'day') throw invalidQuery('granularity', 'must be hour or day')
  if (granularity === 'hour' && span > MAX_HOURLY_DAYS * DAY_MS) throw invalidQuery('granularity', `hour covers at most ${MAX_HOURLY_DAYS} days; use day`)
  const inner = granularity === 'day' ? dayStartsBetween(timeZone, from, to) : hourStartsBetween(timeZone, from, to)
  const boundaries = [from, ...inner, to]
  // Every current zone's offsets are whole quarter hours; historic local mean times are not.
  if (boundaries.some((b) => b % QUARTER_MS !== 0)) throw invalidQuery('timezone', `${timeZone} has an offset that is not a whole quarter hour in this range`)
  return { from, to, timeZone, granularity, boundaries, window }
}

/** The longest span of a range, in days (for plan limits). */
export function spanDays(range: TimeRange): number {
  return (range.to - range.from) / DAY_MS
}
