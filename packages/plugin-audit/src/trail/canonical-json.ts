/**
 * Makes a value safe to store and hash: strings in Unicode NFC (so a re-encoded but equal string
 * hashes the same), NUL characters replaced (PostgreSQL text cannot hold them), bigints and
 * integers beyond 2^53 as decimal strings (a JSON number would lose digits through jsonb), dates
 * as ISO strings, non-finite numbers as null, undefined dropped. Keys are normalised too.
 */
export function normalizeJson(value: unknown): unknown {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case 'string':
      return normalizeString(value)
    case 'number':
      if (!Number.isFinite(value)) return null
      return Number.isInteger(value) && !Number.isSafeInteger(value) ? BigInt(value).toString() : value
    case 'bigint':
      return value.toString()
    case 'boolean':
      return value
    case 'object': {
      if (value instanceof Date) return value.toISOString()
      if (Array.isArray(value)) return value.map(normalizeJson)
      if (Buffer.isBuffer(value)) return '[binary]'
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
        out[normalizeString(k)] = normalizeJson(v)
      }
      return out
    }
    default:
      return null
  }
}

/** Printable-or-control ASCII without NUL, written as a code point check (a regex with control ranges is a lint error). */
function asciiWithoutNul(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0 || c > 0x7f) return false
  }
  return true
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** NFC, with NUL and lone surrogates (which PostgreSQL refuses) replaced; ASCII, the common case, is already all that. */
function normalizeString(s: string): string {
  if (asciiWithoutNul(s)) return s
  return s.normalize('NFC').replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD')
}

/** Object keys in JCS order (UTF-16 code units: the default sort), normalised, last one winning on a normalisation clash. */
function sortedEntries(o: Record<string, unknown>): [string, unknown][] {
  const map = new Map<string, unknown>()
  for (const k of Object.keys(o)) {
    const v = o[k]
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
    map.set(normalizeString(k), v)
  }
  return [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

function write(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  switch (typeof v) {
    case 'string':
      return JSON.stringify(normalizeString(v))
    case 'number':
      if (!Number.isFinite(v)) return 'null'
      return Number.isInteger(v) && !Number.isSafeInteger(v) ? `"${BigInt(v)}"` : JSON.stringify(v)
    case 'bigint':
      return `"${v}"`
    case 'boolean':
      return v ? 'true' : 'false'
    case 'object': {
      if (v instanceof Date) return `"${v.toISOString()}"`
      if (Array.isArray(v)) return `[${v.map(write).join(',')}]`
      if (Buffer.isBuffer(v)) return '"[binary]"'
      return `{${sortedEntries(v as Record<string, unknown>)
        .map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`)
        .join(',')}}`
    }
    default:
      return 'null'
  }
}

/**
 * The canonical serialisation the chain hashes: RFC 8785 (JCS: keys sorted by UTF-16 code units,
 * ECMAScript number formatting, no whitespace) over the value as `normalizeJson` makes it, so
 * stable under key order and Unicode normalisation, and a row read back from jsonb hashes as it
 * did when written. One pass, no intermediate copy (verification speed is this function's);
 * the tests check it against the `canonicalize` reference implementation on random values.
 */
export function canonicalJson(value: unknown): string {
  return write(value)
}
