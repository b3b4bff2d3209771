import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** A random opaque token (base64url, 256 bits) with an optional prefix. */
export function randomToken(prefix = ''): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`
}

/** SHA-256 hex of a token: what is stored (tokens are random, so no salt or slow hash is needed). */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** HMAC-SHA256 (base64url). */
export function hmac(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url')
}

/** Constant-time string comparison. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
