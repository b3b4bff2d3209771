import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Background work of this plugin (verifying a chain, formatting an export, preparing a batch of
 * bodies) runs on the same event loop as the proxied requests, so one long synchronous stretch
 * shows up directly as their tail latency. A `TimeSlice` lets such a loop give the event loop a
 * turn once it has run for `budgetMs`: call `due()` per item (it reads the clock only every
 * `every` items, so the check costs next to nothing) and `await pause()` when it says so.
 */
export class TimeSlice {
  readonly #budgetMs: number
  readonly #every: number
  #count = 0
  #since = performance.now()

  constructor(budgetMs = 2, every = 16) {
    this.#budgetMs = budgetMs
    this.#every = every
  }

  /** Whether the current stretch has used its budget (checked every `every` calls). */
  due(): boolean {
    if (++this.#count < this.#every) return false
    this.#count = 0
    return performance.now() - this.#since >= this.#budgetMs
  }

  /** Yields to the event loop (timers and I/O run), then starts a new stretch. */
  async pause(): Promise<void> {
    await nextTurn()
    this.#count = 0
    this.#since = performance.now()
  }
}
