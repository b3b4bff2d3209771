/** Counts requests in flight so shutdown can wait for them (streams included) to finish. */
export class InflightTracker {
  #count = 0
  #streams = 0
  #waiters: (() => void)[] = []
  /** Set when shutdown begins: new proxied requests are refused with 503. */
  draining = false

  get count(): number {
    return this.#count
  }

  get streams(): number {
    return this.#streams
  }

  enter(): void {
    this.#count++
  }

  leave(): void {
    this.#count--
    if (this.#count === 0) for (const w of this.#waiters.splice(0)) w()
  }

  streamStarted(): void {
    this.#streams++
  }

  streamEnded(): void {
    this.#streams--
  }

  /** Resolves when nothing is in flight, or after `timeoutMs`; returns whether it drained. */
  async drained(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return true
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      timer.unref()
      this.#waiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }
}
