import type { Database, TxEntityManager } from '@tollgate/core'

/** Retention levels: `retain` stores full request and response bodies, `none` metadata only. */
export type RetentionMode = 'retain' | 'none'

/** An organization's retention: the mode and how long verbose data is kept. */
export interface RetentionPolicy {
  mode: RetentionMode
  /** Days verbose data is kept before the retention worker nullifies it. */
  windowDays: number
  /** False when the organization has no policy of its own and the plugin's defaults apply. */
  custom: boolean
}

/**
 * Per-organization retention policies, cached in memory for a short time so the request path
 * asks the database at most once per organization per TTL. A change made here is seen at once
 * on this instance and within the TTL on the others.
 */
export class RetentionPolicies {
  readonly #db: Database
  readonly #defaults: { mode: RetentionMode; windowDays: number }
  readonly #ttlMs: number
  readonly #cache = new Map<string, { policy: RetentionPolicy; until: number }>()

  constructor(db: Database, defaults: { mode: RetentionMode; windowDays: number }, ttlMs: number) {
    this.#db = db
    this.#defaults = defaults
    this.#ttlMs = ttlMs
  }

  /** The policy from the cache, if fresh (never waits: for the request path). */
  peek(organizationId: string): RetentionPolicy | undefined {
    const hit = this.#cache.get(organizationId)
    return hit && hit.until > Date.now() ? hit.policy : undefined
  }

  /** The organization's policy (cached). */
  async get(organizationId: string, em?: TxEntityManager): Promise<RetentionPolicy> {
    const hit = em ? undefined : this.peek(organizationId)
    if (hit) return hit
    const [row] = await (em ?? this.#db.orm.em.fork()).execute<{ mode: RetentionMode; window_days: number | null }[]>(
      'select mode, window_days from audit_retention_policy where organization_id = ?',
      [organizationId],
      'all',
    )
    const policy: RetentionPolicy = row ? { mode: row.mode, windowDays: row.window_days ?? this.#defaults.windowDays, custom: true } : { ...this.#defaults, custom: false }
    if (this.#cache.size > 100_000) this.#cache.clear()
    this.#cache.set(organizationId, { policy, until: Date.now() + this.#ttlMs })
    return policy
  }

  /** Stores a policy in the caller's transaction; returns the policy before and after. */
  async set(em: TxEntityManager, organizationId: string, next: { mode: RetentionMode; windowDays?: number }): Promise<{ before: RetentionPolicy; after: RetentionPolicy }> {
    const before = await this.get(organizationId, em)
    await em.execute(
      `insert into audit_retention_policy (organization_id, mode, window_days) values (?, ?, ?)
       on conflict (organization_id) do update set mode = excluded.mode, window_days = excluded.window_days, updated_at = now()`,
      [organizationId, next.mode, next.windowDays ?? null],
      'run',
    )
    const after: RetentionPolicy = { mode: next.mode, windowDays: next.windowDays ?? this.#defaults.windowDays, custom: true }
    return { before, after }
  }

  /** Forgets a cached policy (after a change commits). */
  invalidate(organizationId: string): void {
    this.#cache.delete(organizationId)
  }
}
