import { type CatalogModel, createStateKey, formatUsd, type ModelCatalog, type Principal, type RequestContext, TollgateError } from '@tollgate/core'
import type { LedgerSideConfig } from '../config.js'
import type { CounterTarget } from '../ledger/charge-posting.js'
import type { AccountDirectory } from '../ledger/account-directory.js'
import type { LedgerAccountRef } from '../ledger/ledger-types.js'
import type { SettlementWriter } from '../ledger/settlement-writer.js'
import { maxCostOf } from '../pricing/max-cost.js'
import { chargeFromContext } from '../pricing/request-charge.js'
import { type AppliedBudget, type BudgetStore, applicableBudgets, type Budget, describeBudget } from './budget-store.js'
import { accountPoolKey, budgetPoolKey, LeaseUnavailableError, type LeaseManager, type Pool } from './lease-pools.js'
import type { OrgBillingSettings, OrgSettingsStore } from './org-settings.js'
import type { PeriodClock } from './periods.js'

/** What billing knows about a request between beforeUpstream and onComplete. */
export interface Reservation {
  /** Picodollars reserved on every pool (the request's maximum cost). */
  amount: bigint
  pools: Pool[]
  epochs: number[]
  account: { ref: LedgerAccountRef; id: string }
  counters: CounterTarget[]
}

/** Per-request state key of the billing reservation. */
export const ReservationKey = createStateKey<Reservation>('billing.reservation')

/** Everything a request is billed against: its settings, account and applicable budgets. */
interface BillingTarget {
  settings: OrgBillingSettings
  account: { ref: LedgerAccountRef; id: string }
  applied: AppliedBudget[]
}

/** Reasons a request was refused, for the metric label. */
export type RefusalReason = 'balance' | 'budget' | 'unavailable'

/**
 * Budgets at request time. beforeUpstream reserves the request's maximum cost on the account's
 * balance (when prepaid balance is required) and on every budget that applies — all or none,
 * in memory against leases — and refuses the request, naming the budget, when one cannot cover
 * it. onComplete releases the reservation, keeps the actual cost in the leases and queues the
 * charge for the ledger.
 */
export class RequestBudgets {
  readonly #config: LedgerSideConfig
  readonly #catalog: ModelCatalog
  readonly #settings: OrgSettingsStore
  readonly #budgets: BudgetStore
  readonly #accounts: AccountDirectory
  readonly #leases: LeaseManager
  readonly #writer: SettlementWriter
  readonly #clock: PeriodClock
  /** Observer of refusals (metrics). */
  onRefused?: (reason: RefusalReason) => void

  constructor(deps: {
    config: LedgerSideConfig
    catalog: ModelCatalog
    settings: OrgSettingsStore
    budgets: BudgetStore
    accounts: AccountDirectory
    leases: LeaseManager
    writer: SettlementWriter
    clock: PeriodClock
  }) {
    this.#config = deps.config
    this.#catalog = deps.catalog
    this.#settings = deps.settings
    this.#budgets = deps.budgets
    this.#accounts = deps.accounts
    this.#leases = deps.leases
    this.#writer = deps.writer
    this.#clock = deps.clock
  }

  /** The request's settings, account and budgets: from memory on the hot path, loaded once per organization or member. */
  target(p: Principal): BillingTarget | Promise<BillingTarget> {
    const settings = this.#settings.cached(p.organizationId)
    const budgets = this.#budgets.cached(p.organizationId)
    const account = this.#accounts.forMemberCached(p.organizationId, p.userId)
    if (settings && budgets && account) return { settings, account, applied: budgets.length === 0 ? [] : applicableBudgets(budgets, p) }
    return this.#load(p)
  }

  async #load(p: Principal): Promise<BillingTarget> {
    const [settings, budgets, account] = await Promise.all([this.#settings.get(p.organizationId), this.#budgets.list(p.organizationId), this.#accounts.forMember(p.organizationId, p.userId)])
    return { settings, account, applied: budgets.length === 0 ? [] : applicableBudgets(budgets, p) }
  }

  /** The counter rows a charge made now adds to. */
  counters(t: BillingTarget): CounterTarget[] {
    if (t.applied.length === 0) return []
    return t.applied.map(({ budget, subject }) => {
      const bounds = this.#clock.current(budget.period, t.settings.timezone)
      return { key: budgetPoolKey(budget.id, subject, bounds.start), budget, subjectId: subject, periodStart: bounds.start, periodEnd: bounds.end }
    })
  }

  /** beforeUpstream: reserve the maximum cost or refuse the request. */
  async reserve(ctx: RequestContext): Promise<void> {
    const route = ctx.route
    if (!route) return
    const model = this.#catalog.get(route.model)
    if (!model) return
    const found = this.target(ctx.principal)
    const t = found instanceof Promise ? await found : found
    const counters = this.counters(t)
    const amount = maxCostOf(model, ctx.request, this.#config.reservation.fallbackMaxOutputTokens).amount
    const pools: Pool[] = []
    if (amount > 0n) {
      if (t.settings.requirePrepaidBalance) pools.push(this.#leases.pool({ kind: 'account', key: accountPoolKey(t.account.id), accountId: t.account.id }))
      for (const c of counters) {
        pools.push(
          this.#leases.pool({ kind: 'budget', key: c.key, budgetId: c.budget.id, organizationId: c.budget.organizationId, subjectId: c.subjectId, periodStart: c.periodStart, periodEnd: c.periodEnd, limit: c.budget.limit }),
        )
      }
    }
    if (pools.length > 0) {
      let refused: Pool | undefined
      try {
        refused = await this.#leases.reserve(pools, amount)
      } catch (err) {
        if (!(err instanceof LeaseUnavailableError)) throw err
        this.onRefused?.('unavailable')
        ctx.log.error({ err: err.cause }, 'billing: could not lease budget from the database')
        throw new TollgateError('TOLLGATE_ERR_BILLING_RESERVATION_UNAVAILABLE', 'The request could not be metered (billing database unavailable); retry shortly', { retryAfter: 1, headers: { 'retry-after': '1' }, cause: err })
      }
      if (refused) throw this.#refusal(refused, amount, model, ctx, t, counters)
    }
    ctx.state.set(ReservationKey, { amount, pools, epochs: pools.map((p) => p.epoch), account: t.account, counters })
  }

  /** onComplete: release the reservation and queue the actual cost for the ledger. */
  async settle(ctx: RequestContext): Promise<void> {
    const r = ctx.state.get(ReservationKey)
    const charge = chargeFromContext(ctx)
    const cost = charge?.cost ?? 0n
    if (r) for (let i = 0; i < r.pools.length; i++) this.#leases.release(r.pools[i], r.amount, r.epochs[i], cost)
    if (!charge) return
    let account = r?.account
    let counters = r?.counters
    if (!account || !counters) {
      // A request that cost something without passing beforeUpstream (aborted before it): bill it all the same.
      const t = await this.#load(ctx.principal)
      account = t.account
      counters = this.counters(t)
    }
    this.#writer.add({
      posting: { charge, account, counters },
      leases: r ? r.pools.map((pool, i) => ({ pool, epoch: r.epochs[i] })) : [],
    })
  }

  #refusal(pool: Pool, amount: bigint, model: CatalogModel, ctx: RequestContext, t: BillingTarget, counters: CounterTarget[]): TollgateError {
    const remaining = pool.lastAvailable + (pool.headroom > 0n ? pool.headroom : 0n)
    const left = remaining > 0n ? remaining : 0n
    const maxTokens = ctx.request.maxTokens !== undefined ? `max_tokens ${ctx.request.maxTokens}` : 'no max_tokens set, so the model\'s output limit is reserved'
    if (pool.spec.kind === 'account') {
      this.onRefused?.('balance')
      const whose = t.account.ref.userId ? 'your personal credit balance' : "the organization's credit balance"
      return new TollgateError(
        'TOLLGATE_ERR_BILLING_INSUFFICIENT_BALANCE',
        `Insufficient credits: this ${model.name} request may cost up to $${formatUsd(amount)} (${maxTokens}) and ${whose} has $${formatUsd(left)} available. Buy credits or lower max_tokens.`,
        { headers: { 'x-tollgate-budget': 'balance' } },
      )
    }
    this.onRefused?.('budget')
    const spec = pool.spec
    const budget = counters.find((c) => c.key === spec.key)?.budget as Budget
    const retryAfter = Math.max(1, Math.ceil((spec.periodEnd.getTime() - Date.now()) / 1000))
    return new TollgateError(
      'TOLLGATE_ERR_BILLING_BUDGET_EXCEEDED',
      `Rejected by ${describeBudget(budget)} of $${formatUsd(budget.limit)}: this ${model.name} request may cost up to $${formatUsd(amount)} (${maxTokens}) and $${formatUsd(left)} of the budget is left until it resets at ${spec.periodEnd.toISOString()} (${t.settings.timezone}).`,
      { retryAfter, headers: { 'retry-after': String(retryAfter), 'x-tollgate-budget': `${budget.scope}:${budget.id}` } },
    )
  }
}
