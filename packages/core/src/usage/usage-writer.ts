import { CompiledQuery } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../data/database.js'
import type { EventBus } from '../events/event-bus.js'
import type { UsageEvent } from './usage-event.js'

/** Tuning of the usage event writer. */
export interface UsageWriterOptions {
  /** Flush when this many events are queued (default 500). */
  batchSize?: number
  /** Flush at least this often (default 200 ms). */
  flushIntervalMs?: number
  /** Drop nothing: above this many queued events, `add` starts awaiting the next flush (default 50 000). */
  maxQueue?: number
}

/** Column name and PostgreSQL type of every written field, in one place for the INSERT and the recordset. */
const COLUMNS: readonly [string, string][] = [
  ['request_id', 'text'], ['occurred_at', 'timestamptz'], ['organization_id', 'uuid'], ['project_id', 'uuid'], ['api_key_id', 'uuid'],
  ['user_id', 'uuid'], ['provider', 'text'], ['model', 'text'], ['upstream_model', 'text'], ['input_tokens', 'integer'],
  ['output_tokens', 'integer'], ['cached_read_tokens', 'integer'], ['cache_write_tokens', 'integer'], ['cost', 'bigint'],
  ['market_cost', 'bigint'], ['latency_ms', 'integer'], ['ttft_ms', 'integer'], ['status', 'integer'], ['error_code', 'text'],
  ['streaming', 'boolean'], ['client_ip', 'text'], ['user_agent', 'text'], ['app_name', 'text'], ['estimated', 'boolean'],
  ['failed_attempts', 'jsonb'],
]

/**
 * One INSERT for the whole batch, with the rows as a single JSON parameter expanded by
 * jsonb_to_recordset: no per-value quoting on the client, one round trip, any batch size.
 */
const INSERT_SQL = `insert into core_usage_event (${COLUMNS.map(([c]) => c).join(',')})
  select ${COLUMNS.map(([c]) => c).join(',')} from jsonb_to_recordset($1::jsonb) as r(${COLUMNS.map(([c, t]) => `${c} ${t}`).join(',')})
  on conflict (request_id) do nothing`

/** A usage event as a recordset row (bigints as strings: JSON numbers would lose precision). */
function row(e: UsageEvent): Record<string, unknown> {
  return {
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
    failed_attempts: e.failedAttempts && e.failedAttempts.length > 0 ? e.failedAttempts : null,
  }
}

/**
 * Writes usage events in batches, off the response path: `add` only queues; a timer or a full
 * batch flushes with one multi-row INSERT. `close` flushes what is left. A failed flush keeps
 * the batch and retries, so a database blip loses nothing; the unique request id makes a
 * retried batch idempotent.
 */
export class UsageWriter {
  readonly #db: Database
  readonly #log: Logger
  readonly #bus: EventBus
  readonly #batchSize: number
  readonly #maxQueue: number
  #queue: UsageEvent[] = []
  #timer: NodeJS.Timeout
  #flushing: Promise<void> | undefined
  #closed = false
  /** Observers of flushes (metrics): batch size and duration in seconds. */
  onFlush?: (count: number, seconds: number, failed: boolean) => void

  constructor(db: Database, bus: EventBus, log: Logger, options: UsageWriterOptions = {}) {
    this.#db = db
    this.#bus = bus
    this.#log = log
    this.#batchSize = options.batchSize ?? 500
    this.#maxQueue = options.maxQueue ?? 50_000
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 200)
    this.#timer.unref()
  }

  /** Events waiting to be written. */
  get queueDepth(): number {
    return this.#queue.length
  }

  /** Queues an event. Resolves at once unless the queue is over its bound (back-pressure instead of loss). */
  add(event: UsageEvent): Promise<void> | undefined {
    this.#queue.push(event)
    if (this.#queue.length >= this.#batchSize) void this.flush()
    if (this.#queue.length > this.#maxQueue) return this.flush()
    return undefined
  }

  /** Writes everything queued now. Concurrent calls share one flush at a time. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing
    if (this.#queue.length === 0) return
    this.#flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined
    })
    await this.#flushing
  }

  async #flushOnce(): Promise<void> {
    const batch = this.#queue.splice(0, this.#batchSize * 4)
    const started = performance.now()
    try {
      // Through Kysely so the JSON travels as a bound parameter, not escaped into the SQL text.
      await this.#db.orm.em.fork().getKysely().executeQuery(CompiledQuery.raw(INSERT_SQL, [JSON.stringify(batch.map(row))]))
      this.onFlush?.(batch.length, (performance.now() - started) / 1000, false)
      await this.#bus.emit('usage.recorded', { events: batch })
    } catch (err) {
      this.onFlush?.(batch.length, (performance.now() - started) / 1000, true)
      if (this.#closed) {
        this.#log.error({ err, lost: batch.length }, 'usage events could not be written during shutdown')
        return
      }
      this.#log.error({ err, count: batch.length }, 'usage event flush failed; will retry')
      this.#queue.unshift(...batch)
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
    this.#closed = true
    if (this.#queue.length > 0) await this.flush()
  }
}
