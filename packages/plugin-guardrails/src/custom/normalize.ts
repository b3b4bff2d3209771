/**
 * Unicode-normalised, case-folded text with a map back to the original offsets: each code point
 * is NFKC-normalised, lower-cased and stripped of combining marks, so "Ｃｏｎｆｉｄｅｎｔｉａｌ",
 * "CONFİDENTİAL" and "confidéntial" compare like "confidential", and a hit in the normalised
 * text still redacts the right characters of the original.
 */
export interface NormalizedText {
  text: string
  /** For each UTF-16 unit of `text`, the offset in the original where its code point starts. */
  origin: Int32Array
  /** Original length, for hits that end at the end. */
  length: number
}

const MARKS = /\p{M}/gu

export function normalizeWithMap(input: string): NormalizedText {
  let out = ''
  const origin: number[] = []
  let i = 0
  while (i < input.length) {
    const cp = input.codePointAt(i) as number
    const ch = String.fromCodePoint(cp)
    const norm = ch.normalize('NFKD').replace(MARKS, '').normalize('NFKC').toLowerCase()
    for (let k = 0; k < norm.length; k++) origin.push(i)
    out += norm
    i += ch.length
  }
  return { text: out, origin: Int32Array.from(origin), length: input.length }
}

/** Normalises a term the same way (for building matchers). */
export function normalizeTerm(term: string): string {
  return normalizeWithMap(term).text.trim().replace(/\s+/g, ' ')
}

/** Maps a [start, end) span of the normalised text back to the original. */
export function originalSpan(n: NormalizedText, start: number, end: number): { start: number; end: number } {
  const s = n.origin[start] ?? n.length
  const e = end < n.origin.length ? n.origin[end] : n.length
  return { start: s, end: Math.max(e, s + 1) }
}
