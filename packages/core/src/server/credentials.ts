import type { IncomingHttpHeaders } from 'node:http'

/**
 * The credential a client sent: `Authorization: Bearer <key>` (OpenAI SDK, and the Anthropic SDK
 * in some versions) or `x-api-key` (Anthropic's header).
 */
export function credentialFrom(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m) return m[1]
  }
  const key = headers['x-api-key']
  if (typeof key === 'string' && key.length > 0) return key.trim()
  return undefined
}
