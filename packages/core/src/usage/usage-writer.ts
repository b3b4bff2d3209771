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
 * One INSERT for the whole batch, with the rows as a single JSON parameter of positional arrays
 * (values only: about half the bytes of keyed objects, and nothing quoted on the client),
 * expanded on the server: one round trip, any batch size.
 */
const INSERT_SQL = `insert into core_usage_event (${COLUMNS.map(([c]) => c).join(',')})
  select ${COLUMNS.map(([, t], i) => (t === 'jsonb' ? `r->${i}` : t === 'text' ? `r->>${i}` : `(r->>${i})::${t}`)).join(',')}
  from jsonb_array_elements($1::jsonb) as e(r)
  on conflict (request_id) do nothing`

/** A usage event as a positional row, in COLUMNS order (bigints as strings: JSON numbers would lose precision). */
function row(e: UsageEvent): unknown[] {
  return [
    e.requestId,
    e.occurredAt.toISOString(),
    e.organizationId,
    e.projectId ?? null,
    e.apiKeyId ?? null,
    e.userId ?? null,
    e.provider ?? null,
    e.model ?? null,
    e.upstreamModel ?? null,
    e.inputTokens,
    e.outputTokens,
    e.cachedReadTokens,
    e.cacheWriteTokens,
    e.cost.toString(),
    e.marketCost.toString(),
    e.latencyMs,
    e.ttftMs ?? null,
    e.status,
    e.errorCode ?? null,
    e.streaming,
    e.clientIp ?? null,
    e.userAgent ?? null,
    e.appName ?? null,
    e.estimated,
    e.failedAttempts && e.failedAttempts.length > 0 ? e.failedAttempts : null,
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
  /**
   * Queued events, each already serialised to its JSON row: strings hold no pointers, so a queue
   * of thousands costs the garbage collector next to nothing while it waits for the next flush.
   * The objects themselves are kept only while something subscribes to 'usage.recorded'.
   */
  #queue: string[] = []
  #events: (UsageEvent | undefined)[] = []
  #timer: NodeJS.Timeout
  #flushing: Promise<void> | undefined
  /** Set by flush(): the running drain goes on until the queue is empty (a timer's drain stops at a partial batch). */
  #drainAll = false
  #closed = false
  /** Observers of flushes (metrics): batch size and duration in seconds. */
  onFlush?: (count: number, seconds: number, failed: boolean) => void

  constructor(db: Database, bus: EventBus, log: Logger, options: UsageWriterOptions = {}) {
    this.#db = db
    this.#bus = bus
    this.#log = log
    this.#batchSize = options.batchSize ?? 500
    this.#maxQueue = options.maxQueue ?? 50_000
    this.#timer = setInterval(() => {
      if (this.#queue.length > 0) void this.#start()
    }, options.flushIntervalMs ?? 200)
    this.#timer.unref()
  }

  /** Events waiting to be written. */
  get queueDepth(): number {
    return this.#queue.length
  }

  /** Queues an event. Resolves at once unless the queue is over its bound (back-pressure instead of loss). */
  add(event: UsageEvent): Promise<void> | undefined {
    this.#queue.push(JSON.stringify(row(event)))
    // Aligned with #queue; an empty slot when nobody listens (no object kept alive).
    this.#events.push(this.#bus.has('usage.recorded') ? event : undefined)
    if (this.#queue.length > this.#maxQueue) return this.flush()
    // One drain at a time: a full batch while a drain runs is picked up by that drain's loop.
    if (this.#queue.length >= this.#batchSize && !this.#flushing) void this.#start()
    return undefined
  }

  /** Writes everything queued now (and whatever arrives meanwhile). Concurrent calls share one drain. */
  flush(): Promise<void> {
    this.#drainAll = true
    const running = this.#flushing
    // A drain that is just ending may have stopped short of what was queued since: start another.
    return running ? running.then(() => (this.#queue.length > 0 ? this.flush() : undefined)) : this.#start()
  }

  #start(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined
      this.#drainAll = false
    })
    return this.#flushing
  }

  /**
   * One INSERT of what is queued; more only while whole batches wait (or flush() asked for
   * everything). Events that arrive during a write wait for the next tick rather than going out
   * at once in a small second statement, which at a steady load doubled the statements for the
   * same rows.
   */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      // On failure the batch is back in the queue; stop and let the timer retry later.
      if (!(await this.#flushOnce())) return
      if (!this.#drainAll && this.#queue.length < this.#batchSize) return
    }
  }

  async #flushOnce(): Promise<boolean> {
    const batch = this.#queue.splice(0, this.#batchSize * 4)
    const slots = this.#events.splice(0, batch.length)
    const events = slots.filter((e): e is UsageEvent => e !== undefined)
    const started = performance.now()
    try {
      // Through Kysely so the JSON travels as a bound parameter, not escaped into the SQL text.
      await this.#db.orm.em.fork().getKysely().executeQuery(CompiledQuery.raw(INSERT_SQL, [`[${batch.join(',')}]`]))
      this.onFlush?.(batch.length, (performance.now() - started) / 1000, false)
      if (events.length > 0) await this.#bus.emit('usage.recorded', { events })
      return true
    } catch (err) {
      this.onFlush?.(batch.length, (performance.now() - started) / 1000, true)
      if (this.#closed) {
        this.#log.error({ err, lost: batch.length }, 'usage events could not be written during shutdown')
        return false
      }
      this.#log.error({ err, count: batch.length }, 'usage event flush failed; will retry')
      this.#queue.unshift(...batch)
      this.#events.unshift(...slots)
      return false
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
