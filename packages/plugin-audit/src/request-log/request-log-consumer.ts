import type { UsageEventReader } from '@tollgate/core'
import type { Logger } from 'pino'

/** The consumer name of the request log in core's event cursor table. */
export const REQUEST_LOG_CONSUMER = 'audit.request-log'

/**
 * Copies a batch of usage events into audit_request_log with one statement, straight from
 * core_usage_event (the batch's rows are visible in the consumer's transaction; the request id
 * index finds them), taking the key's name and prefix from core_api_key as they are now (a key
 * renamed or revoked later keeps the name it had when the request was logged). Idempotent on the
 * usage event id.
 */
const INSERT_SQL = `insert into audit_request_log (id, request_id, occurred_at, organization_id, project_id, api_key_id, api_key_name, api_key_prefix, user_id,
    provider, model, upstream_model, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, cost, market_cost,
    latency_ms, ttft_ms, status, error_code, streaming, client_ip, user_agent, app_name, estimated)
  select u.id, u.request_id, u.occurred_at, u.organization_id, u.project_id, u.api_key_id, k.name, k.prefix, u.user_id,
    u.provider, u.model, u.upstream_model, u.input_tokens, u.output_tokens, u.cached_read_tokens, u.cache_write_tokens, u.cost, u.market_cost,
    u.latency_ms, u.ttft_ms, u.status, u.error_code, u.streaming, u.client_ip, u.user_agent, u.app_name, u.estimated
  from core_usage_event u
  left join core_api_key k on k.id = u.api_key_id
  where u.request_id in (select jsonb_array_elements_text(?::jsonb))
  on conflict (id) do nothing`

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
      // The copy happens in the database by request id: only the ids are read out of the log.
      const n = await this.#usage.consume(
        REQUEST_LOG_CONSUMER,
        this.#batchSize,
        async (events, em) => {
          await em.execute(INSERT_SQL, [JSON.stringify(events.map((e) => e.requestId))], 'run')
        },
        { fields: ['requestId'] },
      )
      total += n
      if (n < this.#batchSize) return total
    }
  }
}
