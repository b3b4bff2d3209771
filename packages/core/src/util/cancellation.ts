/**
 * A cancellation flag for the request path, much cheaper than an AbortController.
 *
 * Node's AbortController costs a few microseconds to build and as much again per listener (its
 * signal is an EventTarget with transfer and weak-listener machinery), and a proxied request used
 * two of them (the client's and the attempt's) plus the HTTP client's listener: a measurable share
 * of the gateway's per-request CPU. A Cancellation is a plain object with a listener list; a real
 * AbortSignal is made only when some code asks for `.signal` (a plugin reading ctx.signal, a
 * custom provider adapter, a retry backoff), and it follows the Cancellation from then on.
 */

/** The part of an AbortSignal the HTTP helpers read; both AbortSignal and Cancellation have it. */
export interface AbortState {
  readonly aborted: boolean
  readonly reason: unknown
}

export class Cancellation implements AbortState {
  #aborted = false
  #reason: unknown
  #listeners: (() => void)[] | undefined
  #controller: AbortController | undefined
  #undiciSignal: UndiciSignal | undefined

  get aborted(): boolean {
    return this.#aborted
  }

  get reason(): unknown {
    return this.#reason
  }

  /** An AbortSignal that aborts with this cancellation (made on first use). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /**
   * What undici takes as a request's `signal`: an EventEmitter-shaped view (undici accepts one and
   * then skips its AbortSignal listener machinery). It has no `aborted` property on purpose: undici
   * hands anything with one to Node's AbortSignal-only listener helper.
   */
  get undiciSignal(): UndiciSignal {
    this.#undiciSignal ??= new UndiciSignal(this)
    return this.#undiciSignal
  }

  /** Aborts (once): the reason is kept, the listeners run in order, the AbortSignal (if made) aborts. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    const listeners = this.#listeners
    this.#listeners = undefined
    if (listeners) for (const fn of listeners) fn()
    this.#controller?.abort(reason)
  }

  /** Runs `fn` once on abort (at once when already aborted); returns the function that removes it. */
  onAbort(fn: () => void): () => void {
    if (this.#aborted) {
      fn()
      return noop
    }
    this.addListener(fn)
    return () => this.removeListener(fn)
  }

  /** Adds a listener for the abort (no-op once aborted; see onAbort). */
  addListener(fn: () => void): void {
    if (this.#aborted) return
    if (this.#listeners) this.#listeners.push(fn)
    else this.#listeners = [fn]
  }

  /** Removes a listener added before (the first occurrence). */
  removeListener(fn: () => void): void {
    const list = this.#listeners
    if (!list) return
    const i = list.indexOf(fn)
    if (i >= 0) list.splice(i, 1)
  }

  /** A cancellation that aborts when this one does; returns it with the function that unlinks it. */
  child(): { cancellation: Cancellation; unlink: () => void } {
    const cancellation = new Cancellation()
    const unlink = this.onAbort(() => cancellation.abort(this.#reason))
    return { cancellation, unlink }
  }
}

/** The EventEmitter-shaped view of a Cancellation that undici's request accepts as `signal`. */
export class UndiciSignal {
  readonly #c: Cancellation

  constructor(c: Cancellation) {
    this.#c = c
  }

  get reason(): unknown {
    return this.#c.reason
  }

  on(_event: 'abort', fn: () => void): this {
    this.#c.addListener(fn)
    return this
  }

  once(_event: 'abort', fn: () => void): this {
    this.#c.addListener(fn)
    return this
  }

  removeListener(_event: 'abort', fn: () => void): this {
    this.#c.removeListener(fn)
    return this
  }

  off(event: 'abort', fn: () => void): this {
    return this.removeListener(event, fn)
  }
}

function noop(): void {}
