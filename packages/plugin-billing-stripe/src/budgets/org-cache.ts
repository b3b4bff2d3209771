import { RefreshingCache, type TxEntityManager } from '@tollgate/core'

/** How an OrgCache reads its values: one organization (optionally in a transaction), or many in one query. */
export interface OrgCacheSource<T> {
  load: (organizationId: string, em?: TxEntityManager) => Promise<T>
  loadMany: (organizationIds: readonly string[]) => Promise<T[]>
}

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
    this.#cache = new RefreshingCache({ ttlMs, loadMany: source.loadMany, onRefreshError })
  }

  /** The cached value, or undefined before the first load (or when its re-reads have failed for long). */
  cached(organizationId: string): T | undefined {
    return this.#cache.peek(organizationId)
  }

  /** The value, loading it when not cached (inside the caller's transaction when one is given). */
  get(organizationId: string, em?: TxEntityManager): T | Promise<T> {
    return this.#cache.get(organizationId, () => this.#source.load(organizationId, em))
  }

  /** Reads the value from the database now (after a change) and caches it. */
  load(organizationId: string, em?: TxEntityManager): Promise<T> {
    return this.#cache.reload(organizationId, () => this.#source.load(organizationId, em))
  }

  /** Stops the background re-reads. */
  close(): void {
    this.#cache.close()
  }
}
