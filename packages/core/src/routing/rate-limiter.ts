import type { Database } from '../data/database.js'

/** One limit a request must fit in: a counter key, its limit per window, and how much the request takes. */
export interface LimitClaim {
  key: string
  limit: number
  amount: number
}

interface Lease {
  window: number
  /** Units this instance took from the shared counter in this window. */
  granted: number
  /** Units used locally (may exceed `granted` after a settlement: a debt the next refill pays). */
  used: number
  /** The shared counter has nothing left for this window. */
  exhausted: boolean
  refill?: Promise<void>
}

/** Options of the limiter. */
export interface RateLimiterOptions {
  /** Window length, ms (limits are per minute: 60 000). */
  windowMs?: number
  /** Share of a limit taken from the shared counter per refill (default 1/20): fewer database round trips, less precision across instances. */
  leaseFraction?: number
  now?: () => number
}

/**
 * Rate limits enforced across every instance sharing the database, without a database round trip
 * per request. Each limit counts in fixed windows (one minute) in `core_rate_limit_counter`; an
 * instance leases a slice of a window's allowance with one atomic upsert (never more than what is
 * left) and serves requests from the slice in memory. Together the instances never exceed a
 * limit; a slice leased and not used is lost for the window (at most one slice per instance).
 * Small limits lease one unit at a time, so they are exact.
 */
export class RateLimiter {
  readonly #db: Database
  readonly #windowMs: number
  readonly #fraction: number
  readonly #now: () => number
  readonly #leases = new Map<string, Lease>()
  #cleanedWindow = 0

  constructor(db: Database, options: RateLimiterOptions = {}) {
    this.#db = db
    this.#windowMs = options.windowMs ?? 60_000
    this.#fraction = options.leaseFraction ?? 1 / 20
    this.#now = options.now ?? Date.now
  }

  /**
   * Takes every claim, or none: on a refusal what was taken is given back. Resolves to
   * `undefined` when all fit, else the seconds until the window ends (for Retry-After) and the
   * key that refused.
   */
  async take(claims: readonly LimitClaim[]): Promise<{ retryAfter: number; key: string } | undefined> {
    for (let i = 0; i < claims.length; i++) {
      const c = claims[i]
      if (await this.#takeOne(c.key, c.limit, c.amount)) continue
      for (let j = 0; j < i; j++) this.give(claims[j].key, claims[j].amount)
      return { retryAfter: this.retryAfterSeconds(), key: c.key }
    }
    return undefined
  }

  /**
   * The hot path: takes every claim from this instance's leased slices, synchronously, when they
   * all fit; otherwise takes nothing and returns false (then call `take`, which may refill).
   */
  tryTakeLocal(claims: readonly LimitClaim[]): boolean {
    const window = this.#window()
    for (const c of claims) {
      const l = this.#leases.get(c.key)
      if (!l || l.window !== window || l.used + c.amount > l.granted) return false
    }
    for (const c of claims) this.#leases.get(c.key)!.used += c.amount
    return true
  }

  /** Gives units back (an attempt that never reached the provider, or a reservation above the actual use). */
  give(key: string, amount: number): void {
    const l = this.#leases.get(key)
    if (l && l.window === this.#window()) l.used = Math.max(0, l.used - amount)
  }

  /** Records use beyond what was taken (actual tokens above the estimate); the next refill pays the debt. */
  charge(key: string, amount: number): void {
    const l = this.#leases.get(key)
    if (l && l.window === this.#window()) l.used += amount
  }

  /** Seconds until the current window ends. */
  retryAfterSeconds(): number {
    const now = this.#now()
    return Math.max(1, Math.ceil(((Math.floor(now / this.#windowMs) + 1) * this.#windowMs - now) / 1000))
  }

  #window(): number {
    return Math.floor(this.#now() / this.#windowMs)
  }

  async #takeOne(key: string, limit: number, amount: number): Promise<boolean> {
    const window = this.#window()
    let l = this.#leases.get(key)
    if (!l || l.window !== window) {
      l = { window, granted: 0, used: 0, exhausted: false }
      if (this.#leases.size >= 100_000) this.#prune(window)
      this.#leases.set(key, l)
    }
    for (;;) {
      if (l.used + amount <= l.granted) {
        l.used += amount
        return true
      }
      if (l.exhausted || amount > limit) return false
      if (l.refill) {
        await l.refill
        continue
      }
      const lease = l
      const want = Math.max(lease.used + amount - lease.granted, Math.floor(limit * this.#fraction), 1)
      lease.refill = this.#grant(key, window, limit, want)
        .then((granted) => {
          lease.granted += granted
          if (granted < want) lease.exhausted = true
        })
        .finally(() => {
          lease.refill = undefined
        })
      await lease.refill
    }
  }

  /** Forgets the slices of past windows (keys of API keys and projects come and go). */
  #prune(window: number): void {
    for (const [key, lease] of this.#leases) if (lease.window !== window && !lease.refill) this.#leases.delete(key)
  }

  /** Takes up to `want` units of what is left of a window's limit, atomically; returns how many. */
  async #grant(key: string, window: number, limit: number, want: number): Promise<number> {
    const em = this.#db.orm.em.fork()
    const rows = await em.execute<{ last_grant: string | number }[]>(
      `insert into core_rate_limit_counter (key, window_start, used, last_grant) values (?, ?::bigint, least(?::bigint, ?::bigint), least(?::bigint, ?::bigint))
       on conflict (key, window_start) do update
         set used = core_rate_limit_counter.used + least(excluded.last_grant, ?::bigint - core_rate_limit_counter.used),
             last_grant = least(excluded.last_grant, ?::bigint - core_rate_limit_counter.used)
         where core_rate_limit_counter.used < ?::bigint
       returning last_grant`,
      [key, window, want, limit, want, limit, limit, limit, limit],
      'all',
    )
    if (this.#cleanedWindow !== window) {
      this.#cleanedWindow = window
      void em.execute('delete from core_rate_limit_counter where window_start < ?', [window - 1], 'run').catch(() => undefined)
    }
    return rows.length > 0 ? Math.max(0, Number(rows[0].last_grant)) : 0
  }
}
