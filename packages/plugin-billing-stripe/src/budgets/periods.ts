import { TollgateError } from '@tollgate/core'

/** A budget period; each starts at local midnight in the organization's timezone (weeks on Monday). */
export type BudgetPeriod = 'day' | 'week' | 'month'

/** The budget periods, for schemas. */
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month']

/** One period: [start, end) as instants. */
export interface PeriodBounds {
  start: Date
  end: Date
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    formatters.set(timeZone, f)
  }
  return f
}

/** Throws TOLLGATE_ERR_BILLING_INVALID_TIMEZONE unless `tz` is an IANA timezone this runtime knows. */
export function assertTimezone(tz: unknown, field = 'timezone'): asserts tz is string {
  if (typeof tz !== 'string' || tz.length === 0) throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_TIMEZONE', `${field} must be an IANA timezone name such as "Europe/Paris"`, { field })
  try {
    formatter(tz)
  } catch {
    throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_TIMEZONE', `${field}: "${tz}" is not an IANA timezone name`, { field })
  }
}

/** Wall-clock parts of an instant in a timezone. */
export function localParts(at: Date, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const out = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 }
  for (const p of formatter(timeZone).formatToParts(at)) {
    if (p.type in out) out[p.type as keyof typeof out] = Number(p.value)
  }
  return out
}

/** The local calendar date (YYYY-MM-DD) of an instant in a timezone. */
export function localDate(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone)
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`
}

/**
 * The instant at which a local date's midnight happens in a timezone. Two passes of the offset
 * correction handle DST changes; where midnight does not exist (a DST jump at 00:00), the first
 * instant of the day is returned.
 */
export function localMidnight(year: number, month: number, day: number, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day)
  let guess = wall
  for (let i = 0; i < 3; i++) {
    const p = localParts(new Date(guess), timeZone)
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second)
    const diff = seen - wall
    if (diff === 0) break
    guess -= diff
  }
  return new Date(guess)
}

/** The period containing `at`, in the timezone. */
export function periodBounds(period: BudgetPeriod, at: Date, timeZone: string): PeriodBounds {
  const p = localParts(at, timeZone)
  let start: { y: number; m: number; d: number }
  let end: { y: number; m: number; d: number }
  if (period === 'day') {
    start = { y: p.year, m: p.month, d: p.day }
    const next = new Date(Date.UTC(p.year, p.month - 1, p.day + 1))
    end = { y: next.getUTCFullYear(), m: next.getUTCMonth() + 1, d: next.getUTCDate() }
  } else if (period === 'week') {
    const dow = (new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay() + 6) % 7 // Monday = 0
    const first = new Date(Date.UTC(p.year, p.month - 1, p.day - dow))
    const next = new Date(Date.UTC(p.year, p.month - 1, p.day - dow + 7))
    start = { y: first.getUTCFullYear(), m: first.getUTCMonth() + 1, d: first.getUTCDate() }
    end = { y: next.getUTCFullYear(), m: next.getUTCMonth() + 1, d: next.getUTCDate() }
  } else {
    start = { y: p.year, m: p.month, d: 1 }
    end = p.month === 12 ? { y: p.year + 1, m: 1, d: 1 } : { y: p.year, m: p.month + 1, d: 1 }
  }
  return { start: localMidnight(start.y, start.m, start.d, timeZone), end: localMidnight(end.y, end.m, end.d, timeZone) }
}

/**
 * Current period bounds per (timezone, period), recomputed only when the cached period has
 * ended: the hot path pays one comparison.
 */
export class PeriodClock {
  readonly #cache = new Map<string, PeriodBounds>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** The current period. */
  current(period: BudgetPeriod, timeZone: string): PeriodBounds {
    const key = `${timeZone}|${period}`
    const now = this.#now()
    const hit = this.#cache.get(key)
    if (hit && now >= hit.start.getTime() && now < hit.end.getTime()) return hit
    const fresh = periodBounds(period, new Date(now), timeZone)
    this.#cache.set(key, fresh)
    return fresh
  }
}
