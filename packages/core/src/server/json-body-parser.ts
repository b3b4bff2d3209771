import type { FastifyInstance } from 'fastify'
import { TollgateError } from '../errors/tollgate-error.js'

/**
 * Depth of the deepest nesting in a JSON text, counted without parsing (strings skipped), so a
 * hostile body of 100 000 nested arrays is refused before JSON.parse builds it.
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}

/**
 * Replaces fastify's JSON parser: the body limit is enforced by fastify while reading (413 as
 * soon as the limit is passed, or at once from Content-Length), then nesting depth is checked,
 * then JSON.parse. `__proto__`/`constructor` keys are kept as plain data by JSON.parse and never
 * merged into objects by Tollgate, so no prototype pollution follows from them.
 */
export function installJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.length === 0) {
      done(new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_JSON', 'The request body is empty; send a JSON object'), undefined)
      return
    }
    if (jsonDepthExceeds(text, maxDepth)) {
      done(new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_JSON', `The JSON body is nested deeper than ${maxDepth} levels`), undefined)
      return
    }
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_JSON', `The request body is not valid JSON: ${(err as Error).message}`), undefined)
    }
  })
}
