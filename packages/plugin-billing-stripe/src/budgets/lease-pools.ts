import type { Database, TxEntityManager } from '@tollgate/core'
import type { Logger } from 'pino'
import { big } from '../ledger/ledger-rows.js'

/** What a pool draws on: an account's balance, or one budget's allowance for one subject and period. */
export type PoolSpec =
  | { kind: 'account'; key: string; accountId: string }
  | {
      kind: 'budget'
      key: string
      budgetId: string
      organizationId: string
      subjectId: string
      periodStart: Date
      periodEnd: Date
      /** The budget's limit (picodollars) as this instance knows it. */
      limit: bigint
    }

/** The pool key of an account. */
export function accountPoolKey(accountId: string): string {
  return `a:${accountId}`
}

/** The pool key of a budget's allowance for a subject in the period starting at `periodStart`. */
export function budgetPoolKey(budgetId: string, subject: string, periodStart: Date): string {
  return `b:${budgetId}:${subject}:${periodStart.getTime()}`
}

/**
 * One pool as this instance sees it. `held` mirrors this instance's lease row (what the database
 * counts as ours); `headroom` is the part of it no request has reserved; the rest is reserved
 * by requests in flight or settled but not yet written to the ledger.
 */
export class Pool {
  spec: PoolSpec
  headroom = 0n
  held = 0n
  /** Requests holding a reservation on this pool. */
  reservations = 0
  /** Bumped when the lease is lost (expired and swept): reservations of an older epoch return nothing. */
  epoch = 0
  /** performance.now() until which the lease may be used without renewal. */
  validUntil = 0
  /** After a refused lease, requests are refused from memory until then. */
  exhaustedUntil = 0
  /** What was available when the last lease was refused (for the error message). */
  lastAvailable = 0n
  lastUsed = 0
  acquiring: Promise<void> | undefined

  constructor(spec: PoolSpec) {
    this.spec = spec
  }
}

/** Lease tuning (see LedgerSideConfig.leases). */
export interface LeaseOptions {
  ttlMs: number
  sliceRequests: number
  maxShareOfAvailable: number
  idleReturnMs: number
  exhaustedRetryMs: number
}

/** Thrown (internally) when the database could not be reached for a lease: the request fails closed. */
export class LeaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super('lease unavailable', { cause })
    this.name = 'LeaseUnavailableError'
  }
}

/** Shares in millionths, for exact bigint arithmetic. */
const SHARE_SCALE = 1_000_000n

/**
 * Leases slices of balances and budgets into this instance, so that the request path reserves
 * in memory and several instances together can never spend more than a pool holds.
 *
 * A lease is granted in one transaction that locks the pool's row (the account, or the
 * budget's period counter), computes what is available — the balance (or limit − spent) minus
 * every instance's lease — and adds a slice to this instance's lease row. Settled costs leave
 * the lease in the same transaction that writes them to the ledger (SettlementWriter), so the
 * ledger and the leases never count a cost twice or not at all. Leases are renewed while in
 * use; one that is not renewed (a crashed instance) expires after `ttlMs` and is swept.
 */
export class LeaseManager {
  readonly #db: Database
  readonly #log: Logger
  readonly instanceId: string
  readonly options: LeaseOptions
  readonly #pools = new Map<string, Pool>()
  #timer: NodeJS.Timeout | undefined
  #maintaining: Promise<void> | undefined
  #closed = false
  /** Observers: lease grants (granted or refused) for metrics. */
  onLease?: (kind: PoolSpec['kind'], granted: boolean) => void

  constructor(db: Database, instanceId: string, options: LeaseOptions, log: Logger) {
    this.#db = db
    this.instanceId = instanceId
    this.options = options
    this.#log = log
  }

  /** Starts renewal and idle return. */
  start(): void {
    const every = Math.max(20, Math.floor(Math.min(this.options.ttlMs / 3, this.options.idleReturnMs / 2)))
    this.#timer = setInterval(() => {
      if (this.#maintaining) return
      this.#maintaining = this.maintain()
        .catch((err) => this.#log.warn({ err }, 'billing lease maintenance failed'))
        .finally(() => {
          this.#maintaining = undefined
        })
    }, every)
    this.#timer.unref()
  }

  /** The pool for a spec (created on first use; a budget's limit is refreshed from the spec). */
  pool(spec: PoolSpec): Pool {
    let p = this.#pools.get(spec.key)
    if (!p) {
      p = new Pool(spec)
      this.#pools.set(spec.key, p)
    } else if (spec.kind === 'budget' && p.spec.kind === 'budget' && p.spec.limit !== spec.limit) {
      p.spec = spec
      p.exhaustedUntil = 0
    }
    return p
  }

  /** A pool by key, if this instance has it. */
  get(key: string): Pool | undefined {
    return this.#pools.get(key)
  }

  /** Forgets refusals of the pools whose key starts with the prefix (after a purchase or a budget change here). */
  invalidate(prefix: string): void {
    for (const p of this.#pools.values()) if (p.spec.key.startsWith(prefix)) p.exhaustedUntil = 0
  }

  /**
   * Reserves `amount` on every pool or on none. Returns undefined on success, or the pool that
   * cannot cover it. Throws LeaseUnavailableError when the database cannot be reached.
   */
  async reserve(pools: Pool[], amount: bigint): Promise<Pool | undefined> {
    let lastShort: Pool | undefined
    for (let attempt = 0; attempt < 10; attempt++) {
      const now = performance.now()
      const short: Pool[] = []
      for (const p of pools) if (p.headroom < amount || p.validUntil <= now) short.push(p)
      if (short.length === 0) {
        for (const p of pools) {
          p.headroom -= amount
          p.reservations++
          p.lastUsed = now
        }
        return undefined
      }
      for (const p of short) if (p.exhaustedUntil > now) return p
      lastShort = short[0]
      const results = await Promise.all(short.map((p) => this.#acquire(p, amount)))
      const refused = short.find((_, i) => !results[i])
      if (refused) return refused
    }
    // Lost the race for fresh headroom ten times in a row: the pool is nearly drained.
    return lastShort
  }

  /**
   * Ends a reservation: `cost` of the reserved `amount` was spent (it stays in the lease until
   * settlement writes it); the rest becomes headroom again, unless the lease was lost meanwhile.
   */
  release(pool: Pool, amount: bigint, epoch: number, cost: bigint): void {
    pool.reservations--
    pool.lastUsed = performance.now()
    if (epoch === pool.epoch) pool.headroom += amount - cost
  }

  /** Settlement wrote `cost` of this pool's lease to the ledger (or its counter) and took it out of the lease row. */
  settled(pool: Pool, epoch: number, cost: bigint): void {
    if (epoch !== pool.epoch) return
    pool.held = pool.held > cost ? pool.held - cost : 0n
  }

  /** Asks the database for a slice covering at least `amount` more; one request per pool at a time. */
  async #acquire(p: Pool, amount: bigint): Promise<boolean> {
    if (p.acquiring) {
      await p.acquiring
      return true // the caller re-checks the headroom
    }
    let granted = false
    p.acquiring = (async () => {
      const started = performance.now()
      // Headroom kept from before counts even when its validity lapsed: if our lease row is still
      // there (not swept), the grant renews it, so only the shortfall has to be newly leased.
      const kept = p.headroom > 0n ? p.headroom : 0n
      const want = amount * BigInt(this.options.sliceRequests)
      let result: { granted: bigint; available: bigint; hadRow: boolean; renewed: boolean }
      try {
        result = await this.#db.orm.em.fork().transactional((em) => this.#grant(em, p.spec, amount, kept, want))
      } catch (err) {
        throw new LeaseUnavailableError(err)
      }
      if (!result.hadRow && p.held > 0n) {
        // Our lease row was swept (we failed to renew in time): what we thought we held is gone.
        this.#lost(p)
      }
      if (result.renewed) {
        // The grant also renewed the row's expiry, so headroom kept from before is usable again.
        p.headroom += result.granted
        p.held += result.granted
        p.validUntil = started + this.options.ttlMs * 0.8
        p.exhaustedUntil = 0
        granted = true
      } else {
        p.lastAvailable = result.available
        p.exhaustedUntil = performance.now() + this.options.exhaustedRetryMs
      }
      this.onLease?.(p.spec.kind, granted)
    })()
    try {
      await p.acquiring
    } finally {
      p.acquiring = undefined
    }
    return granted
  }

  /** The grant transaction: lock the pool row, compute what is free, extend this instance's lease. */
  async #grant(em: TxEntityManager, spec: PoolSpec, amount: bigint, kept: bigint, want: bigint): Promise<{ granted: bigint; available: bigint; hadRow: boolean; renewed: boolean }> {
    let capacity: bigint
    if (spec.kind === 'account') {
      const [row] = await em.execute<{ balance: string }[]>('select balance::text as balance from billing_account where id = ? for update', [spec.accountId], 'all')
      capacity = row ? big(row.balance) : 0n
    } else {
      await em.execute(
        'insert into billing_budget_counter (pool_key, budget_id, organization_id, subject_id, period_start, period_end) values (?, ?, ?, ?, ?, ?) on conflict (pool_key) do nothing',
        [spec.key, spec.budgetId, spec.organizationId, spec.subjectId, spec.periodStart, spec.periodEnd],
        'run',
      )
      const [row] = await em.execute<{ spent: string }[]>('select spent::text as spent from billing_budget_counter where pool_key = ? for update', [spec.key], 'all')
      capacity = spec.limit - big(row.spent)
    }
    // A second statement, after the lock: it sees every lease committed before the lock was granted.
    const [sum] = await em.execute<{ leased: string }[]>('select coalesce(sum(amount), 0)::text as leased from billing_lease where pool_key = ?', [spec.key], 'all')
    const available = capacity - big(sum.leased)
    const [mine] = await em.execute<{ amount: string }[]>('select amount::text as amount from billing_lease where pool_key = ? and instance_id = ?', [spec.key, this.instanceId], 'all')
    const hadRow = mine !== undefined
    // Our own row's unreserved headroom is ours again once renewed; a swept row took it away.
    const shortfall = hadRow ? amount - kept : amount
    if (shortfall <= 0n) {
      await em.execute(`update billing_lease set expires_at = now() + ? * interval '1 millisecond', updated_at = now() where pool_key = ? and instance_id = ?`, [this.options.ttlMs, spec.key, this.instanceId], 'run')
      return { granted: 0n, available, hadRow, renewed: true }
    }
    const need = shortfall
    if (available < need) return { granted: 0n, available, hadRow, renewed: false }
    const share = (available * BigInt(Math.round(this.options.maxShareOfAvailable * 1_000_000))) / SHARE_SCALE
    let g = want < share ? want : share
    if (g < need) g = need
    if (g > available) g = available
    await em.execute(
      `insert into billing_lease (pool_key, instance_id, amount, expires_at) values (?, ?, ?::numeric, now() + ? * interval '1 millisecond')
       on conflict (pool_key, instance_id) do update set amount = billing_lease.amount + excluded.amount, expires_at = excluded.expires_at, updated_at = now()`,
      [spec.key, this.instanceId, g.toString(), this.options.ttlMs],
      'run',
    )
    return { granted: g, available, hadRow, renewed: true }
  }

  /**
   * Renews the leases in use, notices lost ones, returns idle headroom and forgets pools that
   * hold nothing (old budget periods end up here).
   */
  async maintain(): Promise<void> {
    const now = performance.now()
    const live = [...this.#pools.values()].filter((p) => p.held > 0n || p.reservations > 0)
    if (live.length > 0) {
      const started = performance.now()
      const rows = await this.#db.orm.em
        .fork()
        .execute<{ pool_key: string }[]>(
          `update billing_lease set expires_at = now() + ? * interval '1 millisecond', updated_at = now() where instance_id = ? and pool_key in (${live.map(() => '?').join(',')}) returning pool_key`,
          [this.options.ttlMs, this.instanceId, ...live.map((p) => p.spec.key)],
          'all',
        )
      const renewed = new Set(rows.map((r) => r.pool_key))
      for (const p of live) {
        if (renewed.has(p.spec.key)) {
          if (p.held > 0n) p.validUntil = started + this.options.ttlMs * 0.8
        } else if (p.held > 0n) {
          this.#lost(p)
        }
      }
    }
    for (const p of [...this.#pools.values()]) {
      if (p.reservations > 0 || p.acquiring || now - p.lastUsed < this.options.idleReturnMs) continue
      await this.#giveBack(p)
    }
  }

  /** Our lease on the pool expired and was released by another instance: drop what we thought we held. */
  #lost(p: Pool): void {
    this.#log.warn({ pool: p.spec.key }, 'billing lease was lost (expired and released); its headroom is dropped')
    p.epoch++
    p.held = 0n
    p.headroom = 0n
    p.validUntil = 0
  }

  /** Returns a pool's unreserved headroom to the database and drops the lease row when it is empty. */
  async #giveBack(p: Pool): Promise<void> {
    // biome-ignore lint/complexity/useMathMinMax: bigints (Math.min takes numbers only)
    const back = p.headroom > 0n ? (p.headroom < p.held ? p.headroom : p.held) : 0n
    if (back > 0n) {
      p.headroom -= back
      p.held -= back
      try {
        await this.#db.orm.em
          .fork()
          .execute('update billing_lease set amount = greatest(amount - ?::numeric, 0), updated_at = now() where pool_key = ? and instance_id = ?', [back.toString(), p.spec.key, this.instanceId], 'run')
      } catch (err) {
        p.headroom += back
        p.held += back
        throw err
      }
    }
    if (p.held === 0n && p.reservations === 0) {
      await this.#db.orm.em.fork().execute('delete from billing_lease where pool_key = ? and instance_id = ? and amount = 0', [p.spec.key, this.instanceId], 'run')
      if (p.reservations === 0 && p.held === 0n && !p.acquiring) this.#pools.delete(p.spec.key)
    }
  }

  /** Gives every lease back (shutdown, after in-flight requests drained and settlement flushed). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    await this.#maintaining
    for (const p of [...this.#pools.values()]) {
      if (p.reservations > 0) continue
      try {
        await this.#giveBack(p)
      } catch (err) {
        this.#log.warn({ err, pool: p.spec.key }, 'could not return a billing lease at shutdown; it expires on its own')
      }
    }
  }

  /** Pools currently known (diagnostics and tests). */
  pools(): Pool[] {
    return [...this.#pools.values()]
  }
}

/**
 * Releases leases that expired more than `graceMs` ago (their instance stopped renewing them:
 * it crashed or lost the database). Run by the settlement worker only after it has caught up
 * with the usage events, so costs the dead instance had settled but not written are in the
 * ledger before its lease stops covering them.
 */
export async function sweepExpiredLeases(em: TxEntityManager, graceMs: number): Promise<{ poolKey: string; instanceId: string; amount: bigint }[]> {
  const rows = await em.execute<{ pool_key: string; instance_id: string; amount: string }[]>(
    `delete from billing_lease where expires_at < now() - ? * interval '1 millisecond' returning pool_key, instance_id, amount::text as amount`,
    [graceMs],
    'all',
  )
  return rows.map((r) => ({ poolKey: r.pool_key, instanceId: r.instance_id, amount: big(r.amount) }))
}
