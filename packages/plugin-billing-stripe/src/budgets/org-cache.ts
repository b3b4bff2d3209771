import { RefreshingCache, type TxEntityManager } from '@tollgate/core'

/** How an OrgCache reads its values: those of several organizations in one query, in order (inside the caller's transaction when one is given). */
export type OrgCacheSource<T> = (organizationIds: readonly string[], em?: TxEntityManager) => Promise<T[]>

/**
 * Per-organization values read on the request path (budgets, billing settings): served from
 * memory, with the organizations in use re-read together in the background (one query per half
 * TTL, not one per organization), so a request never waits on the database for a value it had a
 * moment ago and a change made on another instance is seen within about the TTL.
 */
export class OrgCache<T> {
  readonly #source: OrgCacheSource<T>
  readonly #cache: RefreshingCache<string, T>

  constructor(source: OrgCacheSource<T>, ttlMs: number, onRefreshError?: (err: unknown) => void) {
    this.#source = source
    this.#cache = new RefreshingCache({ ttlMs, loadMany: (ids) => source(ids), onRefreshError })
  }

  /** The cached value, or undefined before the first load (or when its re-reads have failed for long). */
  cached(organizationId: string): T | undefined {
    return this.#cache.peek(organizationId)
  }

  /** The value, loading it when not cached (inside the caller's transaction when one is given). */
  get(organizationId: string, em?: TxEntityManager): T | Promise<T> {
    return this.#cache.get(organizationId, () => this.#one(organizationId, em))
  }

  /** Reads the value from the database now (after a change) and caches it. */
  load(organizationId: string, em?: TxEntityManager): Promise<T> {
    return this.#cache.reload(organizationId, () => this.#one(organizationId, em))
  }

  async #one(organizationId: string, em?: TxEntityManager): Promise<T> {
    return (await this.#source([organizationId], em))[0]
  }

  /** Stops the background re-reads. */
  close(): void {
    this.#cache.close()
  }
}
