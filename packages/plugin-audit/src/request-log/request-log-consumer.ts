import type { StoredUsageEvent, UsageEventReader } from '@tollgate/core'
import type { Logger } from 'pino'

/** The consumer name of the request log in core's event cursor table. */
export const REQUEST_LOG_CONSUMER = 'audit.request-log'

/**
 * Copies a batch of usage events into audit_request_log with one statement, taking the key's
 * name and prefix from core_api_key as they are now (a key renamed or revoked later keeps the
 * name it had when the request was logged). Idempotent on the usage event id.
 */
const INSERT_SQL = `insert into audit_request_log (id, request_id, occurred_at, organization_id, project_id, api_key_id, api_key_name, api_key_prefix, user_id,
    provider, model, upstream_model, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, cost, market_cost,
    latency_ms, ttft_ms, status, error_code, streaming, client_ip, user_agent, app_name, estimated)
  select r.id, r.request_id, r.occurred_at, r.organization_id, r.project_id, r.api_key_id, k.name, k.prefix, r.user_id,
    r.provider, r.model, r.upstream_model, r.input_tokens, r.output_tokens, r.cached_read_tokens, r.cache_write_tokens, r.cost, r.market_cost,
    r.latency_ms, r.ttft_ms, r.status, r.error_code, r.streaming, r.client_ip, r.user_agent, r.app_name, r.estimated
  from jsonb_to_recordset(?::jsonb) as r(id bigint, request_id text, occurred_at timestamptz, organization_id uuid, project_id uuid, api_key_id uuid, user_id uuid,
    provider text, model text, upstream_model text, input_tokens integer, output_tokens integer, cached_read_tokens integer, cache_write_tokens integer,
    cost bigint, market_cost bigint, latency_ms integer, ttft_ms integer, status integer, error_code text, streaming boolean, client_ip text,
    user_agent text, app_name text, estimated boolean)
  left join core_api_key k on k.id = r.api_key_id
  on conflict (id) do nothing`

function row(e: StoredUsageEvent): Record<string, unknown> {
  return {
    id: e.id.toString(),
    request_id: e.requestId,
    occurred_at: e.occurredAt.toISOString(),
    organization_id: e.organizationId,
    project_id: e.projectId ?? null,
    api_key_id: e.apiKeyId ?? null,
    user_id: e.userId ?? null,
    provider: e.provider ?? null,
    model: e.model ?? null,
    upstream_model: e.upstreamModel ?? null,
    input_tokens: e.inputTokens,
    output_tokens: e.outputTokens,
    cached_read_tokens: e.cachedReadTokens,
    cache_write_tokens: e.cacheWriteTokens,
    cost: e.cost.toString(),
    market_cost: e.marketCost.toString(),
    latency_ms: e.latencyMs,
    ttft_ms: e.ttftMs ?? null,
    status: e.status,
    error_code: e.errorCode ?? null,
    streaming: e.streaming,
    client_ip: e.clientIp ?? null,
    user_agent: e.userAgent ?? null,
    app_name: e.appName ?? null,
    estimated: e.estimated,
  }
}

/**
 * Keeps the request log up to date from core's usage events, exactly once: each batch is read,
 * inserted and the cursor advanced in one transaction (core's UsageEventReader). Runs on a timer
 * off the request path; several instances share the cursor and never log a request twice.
 */
export class RequestLogConsumer {
  readonly #usage: UsageEventReader
  readonly #log: Logger
  readonly #batchSize: number
  #draining: Promise<number> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(usage: UsageEventReader, log: Logger, batchSize: number) {
    this.#usage = usage
    this.#log = log
    this.#batchSize = batchSize
  }

  /** Starts polling. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.drain().catch((err) => this.#log.error({ err }, 'request log: copying usage events failed; will retry'))
    }, intervalMs)
    this.#timer.unref()
  }

  /** Stops polling and waits for a drain in progress. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    await this.#draining?.catch(() => undefined)
  }

  /** Copies every committed usage event not yet logged; returns how many. One drain at a time per process. */
  drain(): Promise<number> {
    this.#draining ??= this.#drainAll().finally(() => {
      this.#draining = undefined
    })
    return this.#draining
  }

  async #drainAll(): Promise<number> {
    let total = 0
    for (;;) {
      const n = await this.#usage.consume(REQUEST_LOG_CONSUMER, this.#batchSize, async (events, em) => {
        await em.execute(INSERT_SQL, [JSON.stringify(events.map(row))], 'run')
      })
      total += n
      if (n < this.#batchSize) return total
    }
  }
}
