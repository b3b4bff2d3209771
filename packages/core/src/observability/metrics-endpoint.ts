import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { errorBodyFor } from '../errors/render.js'
import { TollgateError } from '../errors/tollgate-error.js'
import type { MetricsRegistry } from '../metrics/metrics-registry.js'

/** Where and how `/metrics` is served (the `metrics` section of the gateway config). */
export interface MetricsEndpointOptions {
  /** Serve the exposition at all (default true). */
  endpoint?: boolean
  /** Path of the exposition (default `/metrics`). */
  path?: string
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string
  /** Serve on this port, on its own listener, instead of on the gateway's (0 picks a free one). */
  port?: number
  /** Interface of that listener (default 127.0.0.1). */
  host?: string
}

const digest = (text: string) => createHash('sha256').update(text).digest()

/** Checks the scrape's bearer token in constant time; returns the refusal, if any. */
function refusal(token: string | undefined, authorization: string | undefined): TollgateError | undefined {
  if (token === undefined) return undefined
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '')
  if (!m) return new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'The metrics endpoint needs "Authorization: Bearer <metrics token>"', { headers: { 'www-authenticate': 'Bearer' } })
  if (!timingSafeEqual(digest(m[1].trim()), digest(token))) return new TollgateError('TOLLGATE_ERR_AUTH_INVALID_KEY', 'The metrics token is wrong')
  return undefined
}

/** Registers the exposition route on the gateway's own listener (unless it has its own port or is off). */
export function registerMetricsRoute(app: FastifyInstance, registry: MetricsRegistry, options: MetricsEndpointOptions): void {
  if (options.endpoint === false || options.port !== undefined) return
  app.get(options.path ?? '/metrics', { schema: { hide: true } }, async (request, reply) => {
    const refused = refusal(options.token, request.headers.authorization)
    if (refused) throw refused
    const text = await registry.text()
    return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(text)
  })
}

/** A metrics listener of its own. */
export interface MetricsServer {
  readonly url: string
  close(): Promise<void>
}

/** Serves only the exposition on its own port (so it can stay off the public interface). */
export async function startMetricsServer(registry: MetricsRegistry, options: MetricsEndpointOptions): Promise<MetricsServer> {
  const path = options.path ?? '/metrics'
  const send = (res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers })
    res.end(body)
  }
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' || url !== path) {
      const err = new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `No route ${req.method} ${url}`)
      return send(res, 404, 'application/json; charset=utf-8', JSON.stringify(errorBodyFor('management', err, '')))
    }
    const refused = refusal(options.token, req.headers.authorization)
    if (refused) return send(res, refused.status, 'application/json; charset=utf-8', JSON.stringify(errorBodyFor('management', refused, '')), refused.headers)
    registry.text().then(
      (text) => send(res, 200, registry.contentType, text, { 'cache-control': 'no-store' }),
      () => send(res, 500, 'text/plain; charset=utf-8', 'metrics collection failed\n'),
    )
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as { port: number }
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
