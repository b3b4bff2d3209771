/**
 * Reading the measures the database packs into one text per series row: ten counts, cost and
 * market cost in picodollars, then three USD texts, comma-separated (querySeries). A year by model
 * is 10,950 rows: reading the digits in place, instead of splitting each row into fifteen strings
 * and parsing two BigInts, takes a third of the time and leaves almost nothing to collect.
 */

import { COUNT_COLUMNS } from './measures.js'

/** The number of counts at the start of a packed row. */
export const PACKED_COUNTS = COUNT_COLUMNS.length

/** Digits below this many are one exact double; longer texts are parsed whole (rounded once). */
const EXACT_DIGITS = 15

/**
 * Reads the ten counts into `counts` (from index `at`) and returns the index just after the tenth comma. Counts
 * longer than 15 digits (never seen in practice) are parsed as a whole text: rounded once, like
 * Number() of the exact sum.
 */
export function readCounts(m: string, counts: { [i: number]: number }, at = 0): number {
  let i = 0
  let start = 0
  let n = 0
  let negative = false
  for (let f = 0; f < PACKED_COUNTS; i++) {
    const c = m.charCodeAt(i)
    if (c === 44) {
      if (i - start > EXACT_DIGITS) n = Number(m.slice(start, i))
      counts[at + f++] = negative ? -n : n
      n = 0
      negative = false
      start = i + 1
    } else if (c === 45) negative = true
    else n = n * 10 + (c - 48)
  }
  return i
}

/**
 * An exact running sum of picodollar amounts kept as two doubles (the digits above the last nine,
 * and the last nine), folded into a bigint before either could pass 2^53.
 */
export class PicoSum {
  #hi = 0
  #lo = 0
  #folded = 0n

  /** Adds the amount written at m[start .. the next comma or the end) and returns the index after that comma. */
  addText(m: string, start: number): number {
    let end = m.indexOf(',', start)
    if (end < 0) end = m.length
    let i = start
    const negative = m.charCodeAt(i) === 45
    if (negative) i++
    const split = end - 9
    // Past 15 digits above the last nine (10^12 dollars) the digits are no longer one exact double: read as a bigint.
    if (split - i > EXACT_DIGITS) {
      this.#folded += BigInt(m.slice(start, end))
      return end + 1
    }
    let hi = 0
    let lo = 0
    for (; i < split; i++) hi = hi * 10 + (m.charCodeAt(i) - 48)
    for (; i < end; i++) lo = lo * 10 + (m.charCodeAt(i) - 48)
    if (negative) this.#add(-hi, -lo)
    else this.#add(hi, lo)
    return end + 1
  }

  /** Back to zero. */
  reset(): void {
    this.#hi = 0
    this.#lo = 0
    this.#folded = 0n
  }

  /** Adds another sum into this one. */
  addSum(other: PicoSum): void {
    this.#folded += other.#folded
    this.#add(other.#hi, other.#lo)
  }

  #add(hi: number, lo: number): void {
    this.#hi += hi
    this.#lo += lo
    if (Math.abs(this.#hi) > 2 ** 52 || Math.abs(this.#lo) > 2 ** 52) {
      this.#folded += BigInt(this.#hi) * 1_000_000_000n + BigInt(this.#lo)
      this.#hi = 0
      this.#lo = 0
    }
  }

  /** The exact sum. */
  value(): bigint {
    return this.#folded + BigInt(this.#hi) * 1_000_000_000n + BigInt(this.#lo)
  }
}
