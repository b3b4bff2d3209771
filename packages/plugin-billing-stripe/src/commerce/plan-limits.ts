import { RefreshingCache, TollgateError } from '@tollgate/core'
import type { PlanLimits } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, big, one, reader, rows } from './commerce-db.js'
import { meterUsage } from './meter-usage.js'
import { effectivePlan, effectivePlans } from './plans.js'

/** An organization's usage this month next to its plan's limits. */
interface Snapshot {
  month: string
  limits: PlanLimits
  /** The month's bounds (ms since epoch): the hot path checks the month with two comparisons. */
  monthStart: number
  monthEnd: number
  requests: number
  tokens: number
}

/** The first instant of the UTC month of `now`, and of the next one. */
export function monthBounds(now = new Date()): { start: Date; end: Date; month: string } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))
  return { start, end, month: start.toISOString().slice(0, 7) }
}

/** Requests and tokens an organization used in a month, from the usage rollup. */
export async function rolledUpUsage(em: Em, organizationId: string, monthStart: Date): Promise<MonthUsage> {
  return (await rolledUpUsages(em, [organizationId], monthStart)).get(organizationId) ?? { requests: 0, tokens: 0, cost: 0n }
}

/** An organization's requests, tokens and cost in a month. */
interface MonthUsage {
  requests: number
  tokens: number
  cost: bigint
}

/** Requests, tokens and cost of several organizations in a month, from the usage rollup, in one query (organizations with none are absent). */
async function rolledUpUsages(em: Em, organizationIds: readonly string[], monthStart: Date): Promise<Map<string, MonthUsage>> {
  const found = await rows<{ organization_id: string; requests: string; tokens: string; cost: string }>(
    em,
    `select organization_id, sum(requests) as requests, sum(input_tokens + output_tokens) as tokens, sum(cost) as cost
       from billing_usage_rollup where organization_id in (${organizationIds.map(() => '?').join(',')}) and month = ?::date
      group by organization_id`,
    [...organizationIds, monthStart.toISOString().slice(0, 10)],
  )
  return new Map(found.map((r) => [r.organization_id, { requests: Number(r.requests), tokens: Number(r.tokens), cost: big(r.cost) }]))
}

/**
 * Enforces the plan's monthly request and token limits before the upstream call. The usage it
 * compares against is the monthly rollup (about `settlement.workerGraceMs` behind the requests), plus
 * the requests this instance completed since — so the hot path costs a map lookup, and a limit
 * can be overshot only by what other instances served within that lag plus one cache period. Plans and usage of
 * every organization in use are re-read together in the background every `planLimitCacheMs / 2`
 * (three queries whatever their number), so no request waits on them after its organization's
 * first.
 */
export class PlanLimitGuard {
  readonly #ctx: CommerceContext
  readonly #snapshots: RefreshingCache<string, Snapshot>
  /** Requests and tokens this instance completed that the last read rollup did not include yet. */
  readonly #local = new Map<string, { requests: number; tokens: number }>()
  /** Per organization, the rollup counts the local counts were last reduced by (so each read absorbs only what is new). */
  readonly #absorbed = new Map<string, { month: string; requests: number; tokens: number }>()

  constructor(ctx: CommerceContext) {
    this.#ctx = ctx
    this.#snapshots = new RefreshingCache({
      ttlMs: ctx.config.limitCacheMs,
      loadMany: (ids) => this.#read(ids),
      onRefreshError: (err) => ctx.host.log.warn({ err }, 'billing: could not re-read plans and monthly usage; serving the cached values for now'),
    })
  }

  /** Stops the background re-reads. */
  close(): void {
    this.#snapshots.close()
  }

  async #read(organizationIds: readonly string[]): Promise<Snapshot[]> {
    const { start, end, month } = monthBounds(new Date())
    const em = reader(this.#ctx.host.db)
    const plans = await effectivePlans(this.#ctx, em, organizationIds)
    // A plan without request or token limits needs no usage read.
    const limited = organizationIds.filter((_, i) => plans[i].plan.limits.requestsPerMonth !== null || plans[i].plan.limits.tokensPerMonth !== null)
    const used = limited.length > 0 ? await rolledUpUsages(em, limited, start) : new Map<string, MonthUsage>()
    return organizationIds.map((id, i) => {
      const u = used.get(id) ?? { requests: 0, tokens: 0 }
      // Requests counted locally are absorbed as the rollup catches up with them.
      const local = this.#local.get(id)
      const before = this.#absorbed.get(id)
      if (local && before && before.month === month) {
        local.requests = Math.max(0, local.requests - Math.max(0, u.requests - before.requests))
        local.tokens = Math.max(0, local.tokens - Math.max(0, u.tokens - before.tokens))
      } else this.#local.delete(id)
      this.#absorbed.set(id, { month, requests: u.requests, tokens: u.tokens })
      return { month, monthStart: start.getTime(), monthEnd: end.getTime(), limits: plans[i].plan.limits, requests: u.requests, tokens: u.tokens }
    })
  }

  #snapshot(organizationId: string): Snapshot | Promise<Snapshot> {
    const now = Date.now()
    const cached = this.#snapshots.peek(organizationId, now)
    if (cached && now >= cached.monthStart && now < cached.monthEnd) return cached
    // First use, or a new month: read it now.
    return cached ? this.#snapshots.reload(organizationId) : this.#snapshots.get(organizationId)
  }

  /** Throws TOLLGATE_ERR_PLAN_LIMIT_EXCEEDED when the organization's plan has no requests or tokens left this month. */
  check(organizationId: string): Promise<void> | undefined {
    const found = this.#snapshot(organizationId)
    if (found instanceof Promise) return found.then((snap) => this.#check(organizationId, snap))
    this.#check(organizationId, found)
    return undefined
  }

  #check(organizationId: string, snap: Snapshot): void {
    const local = this.#local.get(organizationId)
    const { requestsPerMonth, tokensPerMonth } = snap.limits
    const refuse = (what: string) => {
      this.#ctx.metrics.planRefusals.inc({ limit: what.endsWith('tokens') ? 'tokens' : 'requests' })
      const retryAfter = secondsToNextMonth()
      return new TollgateError('TOLLGATE_ERR_PLAN_LIMIT_EXCEEDED', `The plan's limit of ${what} for ${snap.month} is used up; upgrade the plan or wait for next month`, {
        retryAfter,
        headers: { 'retry-after': String(retryAfter) },
      })
    }
    if (requestsPerMonth !== null && snap.requests + (local?.requests ?? 0) >= requestsPerMonth) throw refuse(`${requestsPerMonth} requests`)
    if (tokensPerMonth !== null && snap.tokens + (local?.tokens ?? 0) >= tokensPerMonth) throw refuse(`${tokensPerMonth} tokens`)
  }

  /** Counts a completed request until the next read of the rollup includes it. */
  record(organizationId: string, tokens: number): void {
    const local = this.#local.get(organizationId) ?? { requests: 0, tokens: 0 }
    local.requests++
    local.tokens += tokens
    this.#local.set(organizationId, local)
  }

  /** Makes the next check re-read an organization's plan (it changed). */
  invalidate(organizationId?: string): void {
    if (organizationId) this.#snapshots.delete(organizationId)
    else this.#snapshots.clear()
  }
}

function secondsToNextMonth(): number {
  return Math.max(1, Math.ceil((monthBounds().end.getTime() - Date.now()) / 1000))
}

/** Seed 002's UsageMetrics gauge: used, limit (null = unlimited) and percentage of the limit. */
function gauge(used: number, limit: number | null) {
  return { used, limit, percentage: limit === null ? 0 : limit === 0 ? 100 : Math.round((used / limit) * 10000) / 100 }
}

/** Storage meters may be named either way by the metering side. */
const STORAGE_METERS = ['storage_gb', 'data_storage_gb', 'storage']
const QUERY_METERS = ['sql_queries', 'queries', 'sql_query']
const REQUEST_METERS = ['api_requests', 'requests']

/**
 * The usage-versus-limits view of seed 002 (`UsageMetrics`): LLM tokens and API requests from the
 * rollup (plus any `api_requests` meter), queries and storage from the ledger's metered debits,
 * and the seats in use.
 */
export async function usageMetrics(ctx: CommerceContext, organizationId: string, now = new Date()) {
  const em = reader(ctx.host.db)
  const { start, end, month } = monthBounds(now)
  const [plan, used, meters, seats] = await Promise.all([
    effectivePlan(ctx, em, organizationId),
    rolledUpUsage(reader(ctx.host.db), organizationId, start),
    meterUsage(ctx, organizationId, start, end),
    seatsInUse(reader(ctx.host.db), organizationId),
  ])
  const meterSum = (names: string[]) => meters.filter((m) => names.includes(m.meter)).reduce((s, m) => s + m.quantity, 0)
  // Storage is billed at its daily peak: the month's figure is the largest day recorded, not a sum.
  const storagePeak = Math.max(0, ...meters.filter((m) => STORAGE_METERS.includes(m.meter)).map((m) => m.quantity))
  const limits = plan.plan.limits
  return {
    period: month,
    llm_tokens: gauge(used.tokens, limits.tokensPerMonth),
    queries: gauge(meterSum(QUERY_METERS), limits.queriesPerMonth),
    storage_gb: gauge(storagePeak, limits.storageGb),
    api_requests: gauge(used.requests + meterSum(REQUEST_METERS), limits.requestsPerMonth),
    seats: gauge(seats.members + seats.pending, limits.seats),
    plan: { id: plan.plan.id, name: plan.plan.name, source: plan.source },
  }
}

/** Members plus pending (unexpired, unrevoked) invitations of an organization. */
export async function seatsInUse(em: Em, organizationId: string): Promise<{ members: number; pending: number }> {
  const r = await one<{ members: string; pending: string }>(
    em,
    `select (select count(*) from core_membership where organization_id = ?) as members,
            (select count(*) from core_invitation where organization_id = ? and accepted_at is null and revoked_at is null and expires_at > now()) as pending`,
    [organizationId, organizationId],
  )
  return { members: Number(r?.members ?? 0), pending: Number(r?.pending ?? 0) }
}

/**
 * Seat enforcement, run inside the transaction that invites or adds a member (a transactional
 * event subscriber, so a refusal rolls the change back). Members and pending invitations both take
 * seats; accepting an invitation only turns its reserved seat into a member.
 */
export async function assertSeat(ctx: CommerceContext, em: Em, organizationId: string, on: 'invite' | 'join', joiningUserId?: string): Promise<void> {
  const plan = await effectivePlan(ctx, em, organizationId)
  const seats = plan.plan.limits.seats
  if (seats === null) return
  // Serialise seat checks of one organization so two invitations cannot both take the last seat.
  await one(em, 'select id from core_organization where id = ? for update', [organizationId])
  const used = await seatsInUse(em, organizationId)
  // A joining member who holds a pending invitation takes the seat that invitation reserved.
  const own = on === 'join' && joiningUserId ? await one<{ n: string }>(
    em,
    `select count(*) as n from core_invitation i join core_user u on lower(u.email) = lower(i.email)
      where i.organization_id = ? and u.id = ? and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()`,
    [organizationId, joiningUserId],
  ) : undefined
  const count = used.members + used.pending - Number(own?.n ?? 0)
  if (count > seats) {
    throw new TollgateError('TOLLGATE_ERR_PLAN_SEATS_EXHAUSTED', `The ${plan.plan.name} plan has ${seats} seats and all are taken (${used.members} members, ${used.pending} pending invitations); upgrade the plan or remove a member`, {
      field: on === 'invite' ? 'email' : undefined,
    })
  }
}
