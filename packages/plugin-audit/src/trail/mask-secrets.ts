/** What a masked value is replaced with. */
export const MASK = '[masked]'

/**
 * Key names whose values are secrets whatever they hold. Matched on the name with separators
 * removed and lower-cased, so `client_secret`, `clientSecret` and `Client-Secret` all match.
 */
const SECRET_KEYS = /(password|passwd|secret|token|apikey|providerkey|privatekey|credential|authorization|cookie|ciphertext|signingkey|accesskey|sessionid|^otp$|^pin$|^key$)/

/** Key names that look like secrets but hold none (ids, display hints, prefixes). */
const SAFE_KEYS = /(id|ids|hint|prefix|type|name|count|expiresat|createdat|tokens|tokencount)$/

/** Values that are secrets wherever they appear: vendor keys, bearer tokens, JWTs, PEM private keys. */
const SECRET_VALUES: RegExp[] = [
  /\b(sk|rk|pk)-[A-Za-z0-9_-]{16,}/g, // OpenAI/Anthropic-style and Stripe-style keys
  /\btg-[A-Za-z0-9_-]{16,}/g, // Tollgate API keys
  /\b(sk|rk)_(live|test)_[A-Za-z0-9]{10,}/g, // Stripe secret keys
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, // Slack tokens
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
]

function secretKey(key: string): boolean {
  const k = key.replace(/[^A-Za-z0-9]/g, '').toLowerCase()
  return SECRET_KEYS.test(k) && !SAFE_KEYS.test(k)
}

/** Masks secret-looking substrings of a string. */
export function maskString(value: string): string {
  let out = value
  for (const re of SECRET_VALUES) out = out.replace(re, MASK)
  return out
}

/**
 * A deep copy with secrets masked: the value of any key whose name says secret, and any string
 * that looks like a credential wherever it sits. Before/after diffs pass through here, so an
 * event that carelessly includes a key never writes it into the (immutable) trail.
 */
export function maskSecrets(value: unknown, extraKeys: readonly string[] = []): unknown {
  const extra = new Set(extraKeys.map((k) => k.replace(/[^A-Za-z0-9]/g, '').toLowerCase()))
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return maskString(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object' && !(v instanceof Date)) {
      const out: Record<string, unknown> = {}
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const masked = (secretKey(k) || extra.has(k.replace(/[^A-Za-z0-9]/g, '').toLowerCase())) && child !== null && child !== undefined && child !== ''
        out[k] = masked ? MASK : walk(child)
      }
      return out
    }
    return v
  }
  return walk(value)
}
