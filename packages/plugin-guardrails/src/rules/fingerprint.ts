import type { GuardrailMatch, GuardrailRule } from './rule.js'

/** Words per shingle: long enough that common phrases do not collide, short enough to catch a quoted paragraph. */
export const SHINGLE_WORDS = 10
const WORD = /[\p{L}\p{N}]+/gu

/** A 53-bit hash of a string (two FNV-1a variants), exact in a JS number. */
function hash53(s: string): number {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
  }
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff)
}

interface Word {
  text: string
  start: number
  end: number
}

function words(text: string): Word[] {
  const out: Word[] = []
  WORD.lastIndex = 0
  let m: RegExpExecArray | null
  // biome-ignore lint/suspicious/noAssignInExpressions: exec loop
  while ((m = WORD.exec(text)) !== null) out.push({ text: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length })
  return out
}

/**
 * The fingerprint of a document: hex hashes of every run of SHINGLE_WORDS words (lower-cased,
 * punctuation ignored). Only these hashes are stored, never the document.
 */
export function documentFingerprint(text: string): string[] {
  const w = words(text)
  const out = new Set<string>()
  for (let i = 0; i + SHINGLE_WORDS <= w.length; i++) {
    out.add(hash53(w.slice(i, i + SHINGLE_WORDS).map((x) => x.text).join(' ')).toString(16))
  }
  return [...out]
}

/** A protected document as policies carry it. */
export interface FingerprintedDocument {
  id: string
  fingerprints: readonly string[]
}

/** The document-fingerprint rule over a set of documents: a run of SHINGLE_WORDS words found in one of them is flagged. */
export function fingerprintRule(documents: readonly FingerprintedDocument[]): GuardrailRule {
  const set = new Set<number>()
  for (const d of documents) for (const f of d.fingerprints) set.add(Number.parseInt(f, 16))
  return {
    id: 'document.fingerprint',
    category: 'document',
    placeholder: '[PROTECTED_DOCUMENT]',
    defaultAction: 'block',
    maxMatchLength: 320,
    scan(text) {
      if (set.size === 0) return []
      const w = words(text)
      const out: GuardrailMatch[] = []
      for (let i = 0; i + SHINGLE_WORDS <= w.length; i++) {
        const h = hash53(w.slice(i, i + SHINGLE_WORDS).map((x) => x.text).join(' '))
        if (set.has(h)) out.push({ start: w[i].start, end: w[i + SHINGLE_WORDS - 1].end })
      }
      return out
    },
  }
}
