import { randomUUID } from 'node:crypto'
import type { Database, EventBus } from '@tollgate/core'
import type { Logger } from 'pino'
import { TimeSlice } from '../time-slice.js'
import type { CapturedBody } from './body-capture.js'

const INSERT_SQL = `insert into audit_request_body (request_id, organization_id, request, response, error, stored_tokens)
  select r.request_id, r.organization_id, r.request, r.response, r.error, r.stored_tokens
  from jsonb_to_recordset(?::jsonb) as r(request_id text, organization_id uuid, request jsonb, response jsonb, error jsonb, stored_tokens integer)
  on conflict (request_id) do nothing
  returning organization_id, stored_tokens, octet_length(coalesce(request::text, '') || coalesce(response::text, '')) as bytes`

/**
 * The JSON text of a value, or of a marker when it is larger than the configured cap. Text, not
 * the value: the batch's JSON is assembled from these, so each body is serialised once.
 */
function cappedJson(value: unknown, maxBytes: number): string {
  if (value === null || value === undefined) return 'null'
  const text = JSON.stringify(value) ?? 'null'
  // A UTF-8 byte is at least a UTF-16 unit and at most three: only the middle range needs counting.
  if (text.length * 3 <= maxBytes) return text
  const bytes = text.length > maxBytes ? text.length : Buffer.byteLength(text)
  if (bytes <= maxBytes) return text
  return JSON.stringify({ truncated: true, bytes: Buffer.byteLength(text), head: text.slice(0, Math.floor(maxBytes / 4)) })
}

/**
 * Writes captured bodies in batches off the response path, and in the same transaction emits
 * `audit.retainedTokens` per organization, so the billing plugin's data-retention meter (a
 * transactional subscriber) counts exactly the tokens that were stored. A failed flush keeps the
 * batch for the next try; the request id makes a retried batch idempotent.
 */
export class BodyWriter {
  readonly #db: Database
  readonly #events: Pick<EventBus, 'emit'>
  readonly #log: Logger
  readonly #maxBytes: number
  readonly #batchSize: number
  #queue: CapturedBody[] = []
  #flushing: Promise<void> | undefined
  readonly #timer: NodeJS.Timeout

  constructor(db: Database, events: Pick<EventBus, 'emit'>, log: Logger, options: { maxBytes: number; batchSize: number; flushIntervalMs: number }) {
    this.#db = db
    this.#events = events
    this.#log = log
    this.#maxBytes = options.maxBytes
    this.#batchSize = options.batchSize
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs)
    this.#timer.unref()
  }

  /** Queues a captured body. */
  add(body: CapturedBody): void {
    this.#queue.push(body)
    if (this.#queue.length >= this.#batchSize) void this.flush()
  }

  /** Writes everything queued. */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#batchSize)
      try {
        await this.#write(batch)
      } catch (err) {
        this.#log.error({ err, count: batch.length }, 'request bodies could not be written; will retry')
        this.#queue.unshift(...batch)
        return
      }
    }
  }

  async #write(batch: CapturedBody[]): Promise<void> {
    // Serialising up to a batch of bodies is the slow part: done in slices that yield to the event loop.
    const slice = new TimeSlice(2, 1)
    const rows: string[] = []
    for (const b of batch) {
      rows.push(
        `{"request_id":${JSON.stringify(b.requestId)},"organization_id":${JSON.stringify(b.organizationId)},"request":${cappedJson(b.request, this.#maxBytes)},"response":${cappedJson(b.response, this.#maxBytes)},"error":${JSON.stringify(b.error ?? null)},"stored_tokens":${JSON.stringify(b.storedTokens)}}`,
      )
      if (slice.due()) await slice.pause()
    }
    const rowsJson = `[${rows.join(',')}]`
    // One id per write: the idempotency key under which billing meters these stored tokens.
    const batchId = randomUUID()
    await this.#db.orm.em.fork().transactional(async (em) => {
      const written = await em.execute<{ organization_id: string; stored_tokens: number; bytes: number }[]>(INSERT_SQL, [rowsJson], 'all')
      const byOrg = new Map<string, { tokens: number; requests: number; bytes: number }>()
      for (const w of written) {
        const t = byOrg.get(w.organization_id) ?? { tokens: 0, requests: 0, bytes: 0 }
        t.tokens += Number(w.stored_tokens)
        t.requests += 1
        t.bytes += Number(w.bytes)
        byOrg.set(w.organization_id, t)
      }
      for (const [organizationId, t] of byOrg) {
        await this.#events.emit('audit.retainedTokens', { organizationId, ...t, batchId }, { organizationId, actor: { type: 'system', id: 'audit' }, em })
      }
    })
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
    if (this.#queue.length > 0) await this.flush()
  }
}
