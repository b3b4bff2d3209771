import type { Logger } from 'pino'
import type { RequestContext } from '../context/request-context.js'
import { formatUsd } from '../util/money.js'

/** Options of the access log (`accessLog` in the gateway config). */
export interface AccessLogOptions {
  /** One info line per proxied request (default true). */
  enabled?: boolean
  /** Also log the request headers, with credentials redacted (default false). */
  headers?: boolean
}

/**
 * Paths pino redacts in every line of the gateway's loggers: request headers that carry client or
 * provider credentials, and any field named like a key or secret one or two levels down (provider
 * configs, error details). Hosts building their own pino logger can pass these as `redact`.
 */
export const REDACT_PATHS: readonly string[] = [
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'headers["x-goog-api-key"]',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'apiKey',
  'providerKey',
  '*.apiKey',
  '*.providerKey',
  '*.secret',
  '*.password',
  '*.token',
]

/** The header paths of REDACT_PATHS: what the access line can carry (its `headers`). */
const ACCESS_REDACT_PATHS = REDACT_PATHS.filter((p) => p.startsWith('headers'))

/** Rounds a millisecond figure to 0.01 ms (the log is for people and queries, not nanoseconds). */
function ms(value: number): number {
  return Math.round(value * 100) / 100
}

/**
 * Writes one structured line per proxied request: who (organization, project, API key prefix —
 * never the key), what (route, provider, model, stream), how it went (status, outcome, error
 * code), how long (latency, upstream time, time to first token), tokens and cost. Written after
 * the response, off the client's path; credentials are redacted by pino (REDACT_PATHS).
 */
export class AccessLog {
  readonly #log: Logger
  readonly #headers: boolean

  constructor(log: Logger, options: AccessLogOptions = {}) {
    // A child with its own redaction, so the access line is safe whatever logger the host gave.
    // Only the header paths: the line's other fields are fixed and credential-free, and wildcard
    // paths would double the cost of every line.
    this.#log = log.child({ log: 'access' }, { redact: { paths: ACCESS_REDACT_PATHS, censor: '[REDACTED]' } })
    this.#headers = options.headers ?? false
  }

  /** Logs a finished request. */
  write(ctx: RequestContext): void {
    if (!this.#log.isLevelEnabled('info')) return
    const t = ctx.timings
    const p = ctx.principal as RequestContext['principal'] | undefined
    const u = ctx.usage
    const line: Record<string, unknown> = {
      reqId: ctx.id,
      org: p?.organizationId,
      project: p?.projectId,
      keyPrefix: p?.apiKeyPrefix,
      route: ctx.protocol,
      provider: ctx.route?.provider,
      model: ctx.request?.model,
      upstreamModel: ctx.route?.upstreamModel,
      stream: ctx.request?.stream ?? false,
      status: ctx.status,
      outcome: ctx.outcome,
      errorCode: ctx.error?.code,
      latencyMs: t.end !== undefined ? ms(t.end - t.start) : undefined,
      upstreamMs: t.upstreamStart !== undefined && t.upstreamHeaders !== undefined ? ms(t.upstreamHeaders - t.upstreamStart) : undefined,
      ttftMs: ctx.request?.stream && t.firstByte !== undefined ? ms(t.firstByte - t.start) : undefined,
      tokens: u ? { input: u.inputTokens, output: u.outputTokens, cachedRead: u.cachedReadTokens, cacheWrite: u.cacheWriteTokens, estimated: u.estimated ?? false } : undefined,
      costUsd: ctx.cost ? formatUsd(ctx.cost.cost) : undefined,
      marketCostUsd: ctx.cost ? formatUsd(ctx.cost.marketCost) : undefined,
      attempts: ctx.failedAttempts.length + (ctx.route ? 1 : 0),
      ip: ctx.client.ip,
      userAgent: ctx.client.userAgent,
    }
    if (this.#headers && ctx.headers) line.headers = ctx.headers
    this.#log.info(line, 'request')
  }
}
