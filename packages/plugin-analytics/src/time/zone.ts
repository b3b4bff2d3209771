/**
 * Local days and hours of a zone as UTC instants, and their labels. The primitives (wall-clock
 * parts, offsets, local time to UTC) are core's time-zone helpers, shared with billing.
 */
import { localParts, localToUtc, offsetAt } from '@tollgate/core'

export { isTimeZone, type LocalParts, localParts, localToUtc, offsetAt } from '@tollgate/core'

const QUARTER_MS = 900_000

/** The local calendar date (year, month, day) of an instant. */
export function localDate(timeZone: string, instant: number): { year: number; month: number; day: number } {
  const p = localParts(timeZone, instant)
  return { year: p.year, month: p.month, day: p.day }
}

/** The date after a calendar date. */
export function nextDate(d: { year: number; month: number; day: number }): { year: number; month: number; day: number } {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + 1))
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() }
}

/** Memo of day starts by zone and date: bounded, cleared whole when full (a day's start never changes for a given tz database). */
const dayStarts = new Map<string, number>()
const DAY_STARTS_MAX = 100_000

/**
 * The UTC instant a local date starts at (core's localToUtc, memoized): localToUtc costs several
 * Intl formatting calls, and a year of daily buckets asks for 365 of them on every request.
 */
export function dayStart(timeZone: string, date: { year: number; month: number; day: number }): number {
  const key = `${timeZone}\u0001${date.year}-${date.month}-${date.day}`
  let start = dayStarts.get(key)
  if (start === undefined) {
    start = localToUtc(timeZone, date.year, date.month, date.day)
    if (dayStarts.size >= DAY_STARTS_MAX) dayStarts.clear()
    dayStarts.set(key, start)
  }
  return start
}

/** Starts of the local days strictly inside (from, to), as UTC instants. */
export function dayStartsBetween(timeZone: string, from: number, to: number): number[] {
  const out: number[] = []
  let date = localDate(timeZone, from)
  for (;;) {
    date = nextDate(date)
    const start = dayStart(timeZone, date)
    if (start >= to) return out
    if (start > from) out.push(start)
  }
}

/**
 * Starts of the local hours strictly inside (from, to). An hour bucket holds the instants that
 * share a local date, hour and UTC offset, so walking 15-minute UTC steps (every local hour starts
 * on one) finds them all: the hour repeated when DST ends is two buckets (one per offset), a
 * skipped hour none, and Lord Howe's half-hour shifts give a 30-minute bucket at the transition.
 */
export function hourStartsBetween(timeZone: string, from: number, to: number): number[] {
  const out: number[] = []
  let t = Math.floor(from / QUARTER_MS) * QUARTER_MS
  let previous = hourKey(timeZone, t)
  for (t += QUARTER_MS; t < to; t += QUARTER_MS) {
    const key = hourKey(timeZone, t)
    if (key !== previous && t > from) out.push(t)
    previous = key
  }
  return out
}

/** Local date, hour and offset of an instant: what one hour bucket shares. */
function hourKey(timeZone: string, instant: number): string {
  const offset = offsetAt(timeZone, instant)
  const local = instant + offset
  return `${Math.floor(local / 3_600_000)}|${offset}`
}

function pad(n: number, width = 2): string {
  return String(Math.abs(n)).padStart(width, '0')
}

const dateLabels = new Map<string, string>()

/** "2026-06-01" — the local date of an instant (memoized like dayStart: a year's buckets label 365 day starts per request). */
export function localDateLabel(timeZone: string, instant: number): string {
  const key = `${timeZone}\u0001${instant}`
  let label = dateLabels.get(key)
  if (label === undefined) {
    const p = localParts(timeZone, instant)
    label = `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`
    if (dateLabels.size >= DAY_STARTS_MAX) dateLabels.clear()
    dateLabels.set(key, label)
  }
  return label
}

/** "2026-06-01T10:00+02:00" — the local hour of an instant with its offset (tells repeated DST hours apart). */
export function localTimeLabel(timeZone: string, instant: number): string {
  const p = localParts(timeZone, instant)
  const off = offsetAt(timeZone, instant) / 60_000
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:00${off < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
}
