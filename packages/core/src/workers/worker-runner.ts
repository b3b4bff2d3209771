import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { Database } from '../data/database.js'
import type { TxEntityManager } from '../usage/usage-reader.js'

/** A background job that runs periodically on at most one instance of a cluster at a time. */
export interface WorkerDefinition {
  /** Unique name, `<pluginId>.<job>`; also the advisory lock key. */
  name: string
  /** Time between runs (ms). */
  intervalMs: number
  /**
   * One run. Called inside a transaction holding a cluster-wide advisory lock on the worker's
   * name, so no other instance runs it at the same time. Return true to run again at once (more
   * work is waiting).
   */
  run(ctx: { em: TxEntityManager; signal: AbortSignal; log: Logger }): Promise<boolean | void>
}

/** Stable 64-bit advisory lock key for a worker name. */
export function lockKeyFor(name: string): bigint {
  return createHash('sha256').update(`tollgate.worker:${name}`).digest().readBigInt64BE(0)
}

/**
 * Runs registered workers. Each run takes `pg_try_advisory_xact_lock` in its transaction: the
 * instance that gets it runs, the others skip that turn. The lock ends with the transaction, so
 * a crashed instance never holds it.
 */
export class WorkerRunner {
  readonly #db: Database
  readonly #log: Logger
  readonly #workers: WorkerDefinition[] = []
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #running = new Set<Promise<unknown>>()
  readonly #abort = new AbortController()
  #started = false

  constructor(db: Database, log: Logger) {
    this.#db = db
    this.#log = log
  }

  /** Adds a worker (before or after start). */
  add(worker: WorkerDefinition): void {
    if (this.#workers.some((w) => w.name === worker.name)) throw new Error(`worker ${worker.name} is registered twice`)
    this.#workers.push(worker)
    if (this.#started) this.#schedule(worker, 0)
  }

  /** The registered workers. */
  get workers(): readonly WorkerDefinition[] {
    return this.#workers
  }

  /** Starts the timers. */
  start(): void {
    if (this.#started) return
    this.#started = true
    for (const w of this.#workers) this.#schedule(w, w.intervalMs)
  }

  #schedule(worker: WorkerDefinition, delay: number): void {
    if (this.#abort.signal.aborted) return
    const timer = setTimeout(() => {
      const p = this.runOnce(worker.name)
        .then((again) => this.#schedule(worker, again ? 0 : worker.intervalMs))
        .catch((err) => {
          this.#log.error({ err, worker: worker.name }, 'worker run failed')
          this.#schedule(worker, worker.intervalMs)
        })
      this.#running.add(p)
      void p.finally(() => this.#running.delete(p))
    }, delay)
    timer.unref()
    this.#timers.set(worker.name, timer)
  }

  /**
   * Runs one turn of a worker now, if this instance gets the lock. Returns true when it ran and
   * asked to run again, false when it ran and is done, undefined when another instance held the lock.
   */
  async runOnce(name: string): Promise<boolean | undefined> {
    const worker = this.#workers.find((w) => w.name === name)
    if (!worker) throw new Error(`no worker named ${name}`)
    const key = lockKeyFor(name)
    return this.#db.orm.em.fork().transactional(async (em) => {
      const [row] = await em.execute<{ locked: boolean }[]>('select pg_try_advisory_xact_lock(?::bigint) as locked', [key.toString()], 'all')
      if (!row.locked) return undefined
      const again = await worker.run({ em, signal: this.#abort.signal, log: this.#log.child({ worker: name }) })
      return again === true
    })
  }

  /** Stops scheduling and waits for runs in progress. */
  async stop(): Promise<void> {
    this.#abort.abort()
    for (const t of this.#timers.values()) clearTimeout(t)
    await Promise.allSettled([...this.#running])
  }
}
