import type { TxEntityManager } from '@tollgate/core'

/**
 * Per-organization values read on the request path (budgets, billing settings): served from
 * memory, and once older than the TTL still served while one background reload replaces them, so
 * a request never waits on the database for a value it had a moment ago.
 */
export class OrgCache<T> {
  readonly #load: (organizationId: string, em?: TxEntityManager) => Promise<T>
  readonly #ttlMs: number
  readonly #entries = new Map<string, { value: T; at: number; refreshing?: boolean }>()

  constructor(load: (organizationId: string, em?: TxEntityManager) => Promise<T>, ttlMs: number) {
    this.#load = load
    this.#ttlMs = ttlMs
  }

  /** The cached value (reloading it in the background when stale), or undefined before the first load. */
  cached(organizationId: string): T | undefined {
    const hit = this.#entries.get(organizationId)
    if (!hit) return undefined
    if (Date.now() - hit.at > this.#ttlMs && !hit.refreshing) {
      hit.refreshing = true
      void this.load(organizationId).catch(() => {
        hit.refreshing = false
      })
    }
    return hit.value
  }

  /** The value, loading it when not cached. */
  get(organizationId: string, em?: TxEntityManager): T | Promise<T> {
    return this.cached(organizationId) ?? this.load(organizationId, em)
  }

  /** Reads the value from the database now (after a change, or on a miss) and caches it. */
  async load(organizationId: string, em?: TxEntityManager): Promise<T> {
    const value = await this.#load(organizationId, em)
    this.#entries.set(organizationId, { value, at: Date.now() })
    return value
  }
}
