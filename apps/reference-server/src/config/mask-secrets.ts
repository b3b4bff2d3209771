import { isPlainObject } from './merge.js'

/** Keys whose string values are secrets (by the end of the key name). */
const SECRET_KEY = /(secret|password|passwd|token|apikey|api_key|privatekey|private_key|encryptionkey|encryption_key|credentials?)$/i

/** Header names whose values are secrets. */
const SECRET_HEADER = /(authorization|api-key|apikey|token|secret|cookie)/i

/** The mask shown in place of a secret. */
export const MASK = '********'

function maskUrl(value: string): string {
  try {
    const url = new URL(value)
    if (!url.password) return value
    url.password = MASK
    return url.toString()
  } catch {
    return value
  }
}

/**
 * A deep copy of a config with secrets masked: string values under keys that name a secret
 * (apiKey, providerKeyEncryptionKey, clientSecret, …), secret header values, and the password
 * of any URL.
 */
export function maskSecrets(value: unknown, key = '', parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key, parentKey))
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = maskSecrets(v, k, key)
    return out
  }
  if (typeof value !== 'string') return value
  if (SECRET_KEY.test(key)) return MASK
  if (parentKey === 'headers' && SECRET_HEADER.test(key)) return MASK
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return maskUrl(value)
  return value
}
