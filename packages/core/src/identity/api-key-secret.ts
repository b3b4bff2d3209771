import { createHash, randomBytes } from 'node:crypto'

/** Prefix of every Tollgate API key, so secret scanners can recognise them. */
export const API_KEY_PREFIX = 'tg-'

/** A freshly generated API key: the secret (shown once), its display prefix and its hash (stored). */
export interface GeneratedApiKey {
  secret: string
  prefix: string
  hash: string
}

/**
 * Generates a key: 256 random bits, base64url. The secret has full entropy, so a fast SHA-256
 * is the right hash (a slow password hash buys nothing against 2^256 guesses and costs every request).
 */
export function generateApiKey(): GeneratedApiKey {
  const secret = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`
  return { secret, prefix: secret.slice(0, API_KEY_PREFIX.length + 8), hash: hashApiKey(secret) }
}

/** SHA-256 of a key secret, hex. */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** True when a string has the shape of a Tollgate key (cheap pre-check before a lookup). */
export function looksLikeApiKey(secret: string): boolean {
  return secret.startsWith(API_KEY_PREFIX) && secret.length === API_KEY_PREFIX.length + 43
}
