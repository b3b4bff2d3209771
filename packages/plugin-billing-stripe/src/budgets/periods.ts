import { isTimeZone, localParts, localToUtc, TollgateError } from '@tollgate/core'

/** A budget period; each starts at local midnight in the organization's timezone (weeks on Monday). */
export type BudgetPeriod = 'day' | 'week' | 'month'

/** The budget periods, for schemas. */
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month']

/** One period: [start, end) as instants. */
export interface PeriodBounds {
  start: Date
  end: Date
}

/** Throws TOLLGATE_ERR_BILLING_INVALID_TIMEZONE unless `tz` is an IANA timezone this runtime knows. */
export function assertTimezone(tz: unknown, field = 'timezone'): asserts tz is string {
  if (typeof tz !== 'string' || tz.length === 0) throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_TIMEZONE', `${field} must be an IANA timezone name such as "Europe/Paris"`, { field })
  if (!isTimeZone(tz)) throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_TIMEZONE', `${field}: "${tz}" is not an IANA timezone name`, { field })
}

/** The local calendar date (YYYY-MM-DD) of an instant in a timezone. */
export function localDate(at: Date, timeZone: string): string {
  const p = localParts(timeZone, at.getTime())
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`
}

/**
 * The instant at which a local date's midnight happens in a timezone; where midnight does not
 * exist (a DST jump at 00:00), the first instant of the day.
 */
export function localMidnight(year: number, month: number, day: number, timeZone: string): Date {
  return new Date(localToUtc(timeZone, year, month, day))
}

/** The period containing `at`, in the timezone. */
export function periodBounds(period: BudgetPeriod, at: Date, timeZone: string): PeriodBounds {
  const p = localParts(timeZone, at.getTime())
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
