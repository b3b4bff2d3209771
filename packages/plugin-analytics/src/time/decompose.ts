import { GRAINS } from '../rollup/cubes.js'

/** Rows of one grain to read for one bucket, added (sign 1) or subtracted (sign -1): bucket starts in [start, end), ms. */
export interface GrainRange {
  grain: number
  start: number
  end: number
  /** Index of the bucket the rows count towards. */
  bucket: number
  sign: 1 | -1
}

const G = GRAINS.map((g) => g * 1000)

interface Piece {
  level: number
  start: number
  sign: 1 | -1
}

/** [a, b) inside one unit of `level`, as the children's covers (level - 1). */
function byChildren(a: number, b: number, level: number, signed: boolean): Piece[] {
  const out: Piece[] = []
  const c = G[level - 1]
  for (let k = Math.floor(a / c) * c; k < b; k += c) out.push(...cover(Math.max(a, k), Math.min(b, k + c), level - 1, signed))
  return out
}

/**
 * The fewest rollup rows whose sum is [a, b), an interval inside one unit of `level` (on 15-minute
 * instants): the unit itself when whole; else either its children's covers, or (when `signed`)
 * the whole unit minus the covers of what lies outside [a, b) — Paris's local day is the UTC day,
 * minus its last hour, plus the previous day's last hour: three rows instead of nine.
 */
function cover(a: number, b: number, level: number, signed: boolean): Piece[] {
  if (a >= b) return []
  const u0 = Math.floor(a / G[level]) * G[level]
  const u1 = u0 + G[level]
  if (a === u0 && b === u1) return [{ level, start: u0, sign: 1 }]
  const plus = byChildren(a, b, level, signed)
  if (!signed) return plus
  const minus: Piece[] = [{ level, start: u0, sign: 1 }, ...[...byChildren(u0, a, level, signed), ...byChildren(b, u1, level, signed)].map((p) => ({ ...p, sign: (p.sign === 1 ? -1 : 1) as 1 | -1 }))]
  return minus.length < plus.length ? minus : plus
}

/**
 * Splits the buckets between consecutive boundaries (all on 15-minute UTC instants) into rollup
 * rows: each UTC day's part of a bucket is covered by the fewest day, 6-hour, hour and 15-minute
 * rows, added or (when `signed`: sums only, never maxima) subtracted. Adjacent ranges of one grain,
 * sign and bucket are merged into one index range read.
 */
export function decompose(boundaries: readonly number[], signed = false): GrainRange[] {
  const out: GrainRange[] = []
  const day = G[G.length - 1]
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const s = boundaries[i]
    const e = boundaries[i + 1]
    const pieces: Piece[] = []
    for (let d = Math.floor(s / day) * day; d < e; d += day) pieces.push(...cover(Math.max(s, d), Math.min(e, d + day), G.length - 1, signed))
    pieces.sort((x, y) => x.level - y.level || x.sign - y.sign || x.start - y.start)
    let last: GrainRange | undefined
    for (const p of pieces) {
      const grain = G[p.level]
      if (last && last.grain === grain / 1000 && last.sign === p.sign && last.end === p.start) last.end += grain
      else {
        last = { grain: grain / 1000, start: p.start, end: p.start + grain, bucket: i, sign: p.sign }
        out.push(last)
      }
    }
  }
  return out
}
