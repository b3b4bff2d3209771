import { randomUUID } from 'node:crypto'
import type { Database, EventBus } from '@tollgate/core'
import type { Direction, Finding } from '../engine/rule-set.js'
import type { GuardrailViolationEvent } from '../events.js'

/** The violations of one request, gathered while it runs and written after it ends. */
export interface RequestViolations {
  /** Key `rule|action|direction` → count of matches. */
  counts: Map<string, { rule: string; category: string; action: Finding['action']; direction: Direction; count: number }>
}

/** The violations counter (prom-client Counter shape). */
export interface ViolationCounter {
  inc(labels: { rule: string; action: string; direction: string }): void
}

/** A new, empty collection for a request. */
export function newViolations(): RequestViolations {
  return { counts: new Map() }
}

/** Adds findings to a request's collection and counts them in the metric (labels: rule family, action, direction). */
export function noteFindings(v: RequestViolations, findings: readonly Finding[], direction: Direction, metric: ViolationCounter): void {
  for (const f of findings) {
    const key = `${f.ruleId}|${f.action}|${direction}`
    const entry = v.counts.get(key)
    if (entry) entry.count++
    else v.counts.set(key, { rule: f.ruleId, category: f.category, action: f.action, direction, count: 1 })
    // Custom regex ids are per organization: the metric keeps the bounded family name.
    metric.inc({ rule: f.ruleId.startsWith('custom.regex.') ? 'custom.regex' : f.ruleId, action: f.action, direction })
  }
}

/** Who a request's violations belong to. */
export interface ViolationOwner {
  requestId: string
  organizationId: string
  projectId?: string
  apiKeyId?: string
  ip?: string
  userAgent?: string
}

const INSERT_SQL = `insert into guardrails_violation (id, request_id, organization_id, project_id, api_key_id, rule, category, action, direction, count, created_at)
  select (r->>0)::uuid, r->>1, (r->>2)::uuid, (r->>3)::uuid, (r->>4)::uuid, r->>5, r->>6, r->>7, r->>8, (r->>9)::integer, (r->>10)::timestamptz
  from jsonb_array_elements(?::jsonb) as e(r)`

/**
 * Writes violations (rule, action, direction, count, organization, project, key, request id —
 * never content) off the request path: requests hand their violations over when they end, and
 * the writer inserts what has queued in one statement and one transaction every `intervalMs`
 * (or at `batchSize`), emitting guardrails.violation for each row with that transaction's
 * EntityManager so an audit subscriber commits with it. `close` flushes what is left. A failed
 * write is logged and retried with the next batch (bounded by `maxQueue`).
 */
export class ViolationWriter {
  readonly #db: Database
  readonly #events: Pick<EventBus, 'emit'>
  readonly #log: { error(obj: object, msg: string): void }
  readonly #intervalMs: number
  readonly #batchSize: number
  readonly #maxQueue: number
  #queue: { event: GuardrailViolationEvent; who: ViolationOwner; at: Date }[] = []
  #timer?: NodeJS.Timeout
  #flushing?: Promise<void>

  constructor(deps: { db: Database; events: Pick<EventBus, 'emit'>; log: { error(obj: object, msg: string): void }; intervalMs?: number; batchSize?: number; maxQueue?: number }) {
    this.#db = deps.db
    this.#events = deps.events
    this.#log = deps.log
    this.#intervalMs = deps.intervalMs ?? 250
    this.#batchSize = deps.batchSize ?? 500
    this.#maxQueue = deps.maxQueue ?? 100_000
  }

  /** Queues a request's violations. */
  add(who: ViolationOwner, v: RequestViolations): void {
    const at = new Date()
    for (const c of v.counts.values()) {
      if (this.#queue.length >= this.#maxQueue) {
        this.#log.error({ dropped: 1 }, 'guardrails: violation queue full; dropping a violation record')
        continue
      }
      this.#queue.push({ at, who, event: { violationId: randomUUID(), requestId: who.requestId, organizationId: who.organizationId, projectId: who.projectId, apiKeyId: who.apiKeyId, rule: c.rule, category: c.category, action: c.action, direction: c.direction, count: c.count } })
    }
    if (this.#queue.length >= this.#batchSize) void this.flush()
    else if (!this.#timer && this.#queue.length > 0) {
      this.#timer = setTimeout(() => void this.flush(), this.#intervalMs)
      this.#timer.unref()
    }
  }

  /** Writes everything queued now (one transaction per batch). */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#flushing) await this.#flushing
    if (this.#queue.length === 0) return
    const batch = this.#queue.splice(0, this.#batchSize)
    this.#flushing = this.#write(batch).finally(() => {
      this.#flushing = undefined
    })
    await this.#flushing
    if (this.#queue.length > 0 && !this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.#intervalMs)
      this.#timer.unref()
    }
  }

  async #write(batch: { event: GuardrailViolationEvent; who: ViolationOwner; at: Date }[]): Promise<void> {
    const rows = batch.map(({ event: e, at }) => [e.violationId, e.requestId, e.organizationId, e.projectId ?? null, e.apiKeyId ?? null, e.rule, e.category, e.action, e.direction, e.count, at.toISOString()])
    try {
      await this.#db.orm.em.fork().transactional(async (em) => {
        await em.execute(INSERT_SQL, [JSON.stringify(rows)], 'run')
        for (const { event, who } of batch) {
          await this.#events.emit('guardrails.violation', event, { organizationId: who.organizationId, actor: who.apiKeyId ? { type: 'api_key', id: who.apiKeyId } : undefined, ip: who.ip, userAgent: who.userAgent, em })
        }
      })
    } catch (err) {
      this.#log.error({ err, violations: batch.length }, 'guardrails: writing violations failed; retrying with the next batch')
      this.#queue.unshift(...batch)
    }
  }

  /** Flushes what is queued (at shutdown). */
  async close(): Promise<void> {
    await this.flush()
    while (this.#queue.length > 0) {
      const before = this.#queue.length
      await this.flush()
      if (this.#queue.length >= before) break
    }
  }
}
