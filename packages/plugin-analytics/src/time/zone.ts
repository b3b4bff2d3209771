/**
 * Time zone arithmetic with Intl only (no tz database of our own): offsets, local wall-clock
 * parts, and the UTC instant a local date or hour starts at, DST gaps and overlaps included.
 */

const QUARTER_MS = 900_000
const DAY_MS = 86_400_000

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    formatters.set(timeZone, f)
  }
  return f
}

/** True when Intl knows the IANA zone name (case-insensitive, like Intl). */
export function isTimeZone(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false
  try {
    formatter(name)
    return true
  } catch {
    return false
  }
}

/** Local wall-clock fields of an instant in a zone. */
export interface LocalParts {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** The wall-clock fields of an instant (ms) in a zone. */
export function localParts(timeZone: string, instant: number): LocalParts {
  const out: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) if (p.type !== 'literal') out[p.type] = Number(p.value)
  return { year: out.year, month: out.month, day: out.day, hour: out.hour, minute: out.minute, second: out.second }
}

/** The zone's offset from UTC at an instant, in ms (local = utc + offset). */
export function offsetAt(timeZone: string, instant: number): number {
  const p = localParts(timeZone, instant)
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second)
  return wall - (instant - (((instant % 1000) + 1000) % 1000))
}

/**
 * The first instant at which the zone's wall clock shows the given local time. In an overlap (the
 * hour repeated when DST ends) that is the first occurrence; in a gap (a skipped hour) it is the
 * transition itself, which is right for the starts of days and hours, the only times asked for.
 */
export function localToUtc(timeZone: string, year: number, month: number, day: number, hour = 0, minute = 0): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute)
  const before = offsetAt(timeZone, wall - DAY_MS)
  const candidates = new Set([before, offsetAt(timeZone, wall), offsetAt(timeZone, wall + DAY_MS)])
  let best: number | undefined
  for (const offset of candidates) {
    const instant = wall - offset
    if (instant + offsetAt(timeZone, instant) === wall && (best === undefined || instant < best)) best = instant
  }
  return best ?? wall - before
}

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

/** Starts of the local days strictly inside (from, to), as UTC instants. */
export function dayStartsBetween(timeZone: string, from: number, to: number): number[] {
  const out: number[] = []
  let date = localDate(timeZone, from)
  for (;;) {
    date = nextDate(date)
    const start = localToUtc(timeZone, date.year, date.month, date.day)
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

/** "2026-06-01" — the local date of an instant. */
export function localDateLabel(timeZone: string, instant: number): string {
  const p = localParts(timeZone, instant)
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`
}

/** "2026-06-01T10:00+02:00" — the local hour of an instant with its offset (tells repeated DST hours apart). */
export function localTimeLabel(timeZone: string, instant: number): string {
  const p = localParts(timeZone, instant)
  const off = offsetAt(timeZone, instant) / 60_000
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:00${off < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`
}
