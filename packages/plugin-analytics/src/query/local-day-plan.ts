import { decompose, type GrainRange } from '../time/decompose.js'
import { dayStartsBetween, localDateLabel } from '../time/zone.js'

/** Local-day tier rows to read: dates in [from, to) count towards bucket `bucket + step × (day − from)`. */
export interface DayRange {
  /** First local date, "2026-03-08". */
  from: string
  /** The date after the last one. */
  to: string
  bucket: number
  /** 1: one bucket per day (a daily series); 0: every day in the same bucket (a total over the range). */
  step: 0 | 1
}

/** How to read a query's buckets when the zone has a local-day tier: whole local days from the tier, the rest from the grain rows. */
export interface LocalDayPlan {
  days: DayRange[]
  /** Grain-row ranges for the parts of buckets that are not whole local days (a window ending now, say). */
  edges: GrainRange[]
}

/**
 * Splits each bucket [s, e) into the whole local days it contains and the parts before the first
 * and after the last, which are decomposed into grain rows. Undefined when no bucket holds a whole
 * local day (hourly series, short ranges): those queries have nothing to gain from the tier.
 */
export function planLocalDays(boundaries: readonly number[], timeZone: string, signed: boolean): LocalDayPlan | undefined {
  if (boundaries.length < 2) return undefined
  const from = boundaries[0]
  const to = boundaries[boundaries.length - 1]
  // Local day starts in [from, to].
  const starts = dayStartsBetween(timeZone, from - 1, to + 1)
  const days: (DayRange & { count: number })[] = []
  const edges: GrainRange[] = []
  const edge = (a: number, b: number, bucket: number) => {
    if (a < b) for (const r of decompose([a, b], signed)) edges.push({ ...r, bucket })
  }
  let j = 0
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const s = boundaries[i]
    const e = boundaries[i + 1]
    while (j < starts.length && starts[j] < s) j++
    let k = j
    while (k + 1 < starts.length && starts[k + 1] <= e) k++
    // Whole days of this bucket: starts[j] .. starts[k] (k − j of them).
    if (j >= starts.length || k <= j || starts[k] > e) {
      edge(s, e, i)
      continue
    }
    edge(s, starts[j], i)
    edge(starts[k], e, i)
    const range = { from: localDateLabel(timeZone, starts[j]), to: localDateLabel(timeZone, starts[k]), bucket: i, count: k - j }
    const last = days[days.length - 1]
    // Consecutive one-day buckets over consecutive dates read as one range (a daily series).
    if (range.count === 1 && last && last.step === 1 && last.to === range.from && last.bucket + last.count === i) {
      last.to = range.to
      last.count++
    } else days.push({ ...range, step: range.count === 1 ? 1 : 0 })
  }
  if (days.length === 0) return undefined
  return { days: days.map(({ count: _, ...d }) => d), edges }
}
