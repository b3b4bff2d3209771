/**
 * Time zone arithmetic with Intl only (no tz database of our own): local wall-clock parts, the
 * zone's offset at an instant, and the UTC instant a local date or hour starts at, DST gaps and
 * overlaps included. Shared by the plugins that bucket or reset by local days (analytics,
 * billing periods).
 */

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
