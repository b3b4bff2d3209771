import type { Database } from '@tollgate/core'
import type { Logger } from 'pino'
import type { LeaseManager, Pool } from '../budgets/lease-pools.js'
import type { CounterUpdate } from './charge-posting.js'
import type { LedgerEntry } from './ledger-types.js'
import { postRequestCharges, type RequestPosting } from './request-settlement.js'
import { sql } from './sql-exec.js'
import type { SqlLedger } from './sql-ledger.js'

/** A settled request waiting to be written: its posting and the leases its cost came out of. */
export interface PendingSettlement {
  posting: RequestPosting
  leases: { pool: Pool; epoch: number }[]
}

/** Observers of what settlement wrote (alerts, metrics). */
export type SettlementObserver = (written: { entries: LedgerEntry[]; counters: CounterUpdate[]; count: number; seconds: number }) => void

/**
 * Writes settled request costs to the ledger off the request path, in batches: every
 * `flushIntervalMs` or `batchSize` items, one transaction records the requests (one detail row
 * each), posts one usage debit per account, adds the new spend to the budget counters and takes
 * the same amounts out of this instance's lease rows. A failed flush keeps its batch and retries;
 * the detail row's key (the request id) makes a retried or concurrently settled charge write once.
 */
export class SettlementWriter {
  readonly #db: Database
  readonly #ledger: SqlLedger
  readonly #leases: LeaseManager
  readonly #log: Logger
  readonly #batchSize: number
  #queue: PendingSettlement[] = []
  #timer: NodeJS.Timeout
  #flushing: Promise<void> | undefined
  readonly #observers: SettlementObserver[] = []
  /** Failed flushes in a row (backs off the retry). */
  #failures = 0

  constructor(db: Database, ledger: SqlLedger, leases: LeaseManager, log: Logger, options: { flushIntervalMs: number; batchSize: number }) {
    this.#db = db
    this.#ledger = ledger
    this.#leases = leases
    this.#log = log
    this.#batchSize = options.batchSize
    this.#timer = setInterval(() => {
      if (this.#queue.length > 0 && !this.#flushing) void this.flush()
    }, options.flushIntervalMs)
    this.#timer.unref()
  }

  /** Observes every successful flush. */
  observe(observer: SettlementObserver): void {
    this.#observers.push(observer)
  }

  /** Items waiting to be written. */
  get pending(): number {
    return this.#queue.length
  }

  /** Queues a settled request; flushes at once when the batch is full. */
  add(item: PendingSettlement): void {
    this.#queue.push(item)
    if (this.#queue.length >= this.#batchSize && !this.#flushing) void this.flush()
  }

  /** Writes what is queued (one batch at a time; waits for a flush in progress first). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing
    if (this.#queue.length === 0) return
    this.#flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  async #flushOnce(): Promise<void> {
    const batch = this.#queue.splice(0, this.#batchSize)
    const started = performance.now()
    try {
      const result = await this.#db.orm.em.fork().transactional(async (em) => {
        const posted = await postRequestCharges(
          this.#ledger,
          em,
          batch.map((b) => b.posting),
        )
        const byPool = new Map<string, bigint>()
        for (const item of batch) {
          for (const l of item.leases) {
            if (l.epoch !== l.pool.epoch) continue
            byPool.set(l.pool.spec.key, (byPool.get(l.pool.spec.key) ?? 0n) + item.posting.charge.cost)
          }
        }
        if (byPool.size > 0) {
          const rows = [...byPool.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.toString()])
          await sql(
            em,
            `update billing_lease l set amount = greatest(l.amount - v.amt, 0), updated_at = now()
               from (select r->>0 as k, (r->>1)::numeric as amt from jsonb_array_elements($1::jsonb) as e(r)) v
              where l.pool_key = v.k and l.instance_id = $2`,
            [JSON.stringify(rows), this.#leases.instanceId],
          )
        }
        return posted
      })
      this.#failures = 0
      for (const item of batch) for (const l of item.leases) this.#leases.settled(l.pool, l.epoch, item.posting.charge.cost)
      this.#ledger.notify(result.entries)
      const seconds = (performance.now() - started) / 1000
      for (const o of this.#observers) o({ entries: result.entries, counters: result.counters, count: batch.length, seconds })
    } catch (err) {
      this.#failures++
      this.#queue.unshift(...batch)
      this.#log.error({ err, items: batch.length, failures: this.#failures }, 'billing settlement flush failed; will retry')
      if (this.#failures > 1) await new Promise((r) => setTimeout(r, Math.min(5_000, 50 * 2 ** this.#failures)).unref())
    }
  }

  /** Stops the timer and writes everything still queued (a few attempts). */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    for (let i = 0; i < 5 && (this.#queue.length > 0 || this.#flushing); i++) await this.flush()
    if (this.#queue.length > 0) this.#log.error({ items: this.#queue.length }, 'billing settlement could not write every charge at shutdown; the usage events settle them')
  }
}
