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

const COLUMNS = [
  'request_id', 'occurred_at', 'organization_id', 'project_id', 'api_key_id', 'user_id', 'provider', 'model', 'upstream_model',
  'input_tokens', 'output_tokens', 'cached_read_tokens', 'cache_write_tokens', 'cost', 'market_cost', 'latency_ms', 'ttft_ms',
  'status', 'error_code', 'streaming', 'client_ip', 'user_agent', 'app_name', 'estimated', 'failed_attempts',
] as const

function row(e: UsageEvent): unknown[] {
  return [
    e.requestId, e.occurredAt, e.organizationId, e.projectId ?? null, e.apiKeyId ?? null, e.userId ?? null, e.provider ?? null,
    e.model ?? null, e.upstreamModel ?? null, e.inputTokens, e.outputTokens, e.cachedReadTokens, e.cacheWriteTokens,
    e.cost.toString(), e.marketCost.toString(), e.latencyMs, e.ttftMs ?? null, e.status, e.errorCode ?? null, e.streaming,
    e.clientIp ?? null, e.userAgent ?? null, e.appName ?? null, e.estimated,
    e.failedAttempts && e.failedAttempts.length > 0 ? JSON.stringify(e.failedAttempts) : null,
  ]
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
      const params: unknown[] = []
      const tuples: string[] = []
      for (const e of batch) {
        const values = row(e)
        tuples.push(`(${values.map(() => '?').join(',')})`)
        params.push(...values)
      }
      await this.#db.orm.em.fork().execute(
        `insert into core_usage_event (${COLUMNS.join(',')}) values ${tuples.join(',')} on conflict (request_id) do nothing`,
        params,
        'run',
      )
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
