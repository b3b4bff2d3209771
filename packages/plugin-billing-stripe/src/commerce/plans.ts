import { TollgateError } from '@tollgate/core'
import type { DeveloperPlan, OrgPlan } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, rows } from './commerce-db.js'

/** Subscription statuses under which a plan is in force (past_due keeps it while Stripe retries). */
export const LIVE_STATUSES = ['active', 'trialing', 'past_due']

/** The plan an organization is on, and why. */
export interface EffectivePlan {
  plan: OrgPlan
  source: 'admin' | 'subscription' | 'default'
  /** Days to pay an invoice: Net-30 for Enterprise, 0 (paid up front) otherwise. */
  netDays: number
  subscriptionId?: string
  interval?: 'month' | 'year'
}

/** A configured organization plan by id, or a 400 naming the field. */
export function orgPlanById(ctx: CommerceContext, id: string, field = 'plan'): OrgPlan {
  const plan = (ctx.config.plans as Record<string, OrgPlan>)[id]
  if (!plan) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${field}: no organization plan "${id}" (free, pro, enterprise)`, { field })
  return plan
}

/** A configured developer plan by id, or a 400 naming the field. */
export function developerPlanById(ctx: CommerceContext, id: string, field = 'plan'): DeveloperPlan {
  const plan = (ctx.config.developerPlans as Record<string, DeveloperPlan>)[id]
  if (!plan) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${field}: no developer plan "${id}" (lite, pro, max)`, { field })
  return plan
}

/** Which plan a Stripe Price belongs to (subscriptions changed in the portal arrive with a price only). */
export function planOfPrice(ctx: CommerceContext, priceId: string): { kind: 'organization' | 'developer'; plan: string; interval: 'month' | 'year' } | undefined {
  for (const [kind, plans] of [
    ['organization', ctx.config.plans],
    ['developer', ctx.config.developerPlans],
  ] as const) {
    for (const plan of Object.values(plans)) {
      for (const interval of ['month', 'year'] as const) if (plan.prices[interval]?.stripePriceId === priceId) return { kind, plan: plan.id, interval }
    }
  }
  return undefined
}

/** The organization's plan: assigned by a platform administrator, else its live subscription, else Free. */
export async function effectivePlan(ctx: CommerceContext, em: Em, organizationId: string): Promise<EffectivePlan> {
  return (await effectivePlans(ctx, em, [organizationId]))[0]
}

/** The effective plan of each organization, in order, in two queries whatever their number. */
export async function effectivePlans(ctx: CommerceContext, em: Em, organizationIds: readonly string[]): Promise<EffectivePlan[]> {
  const marks = organizationIds.map(() => '?').join(',')
  const assigned = new Map(
    (await rows<{ organization_id: string; plan: string; net_days: number | null }>(em, `select organization_id, plan, net_days from billing_org_plan where organization_id in (${marks})`, [...organizationIds])).map((r) => [r.organization_id, r]),
  )
  const open = organizationIds.filter((id) => !assigned.has(id))
  const subscribed = new Map(
    open.length === 0
      ? []
      : (
          await rows<{ organization_id: string; id: string; plan: string; billing_interval: 'month' | 'year' }>(
            em,
            `select distinct on (organization_id) organization_id, id, plan, billing_interval from billing_subscription
              where organization_id in (${open.map(() => '?').join(',')}) and kind = 'organization' and status in ('active','trialing','past_due')
              order by organization_id, updated_at desc`,
            open,
          )
        ).map((r) => [r.organization_id, r]),
  )
  const netDaysOf = (plan: OrgPlan) => (plan.id === 'enterprise' ? ctx.config.invoices.enterpriseNetDays : ctx.config.invoices.prepaidNetDays)
  return organizationIds.map((id): EffectivePlan => {
    const a = assigned.get(id)
    if (a) {
      const plan = orgPlanById(ctx, a.plan)
      return { plan, source: 'admin', netDays: a.net_days ?? netDaysOf(plan) }
    }
    const sub = subscribed.get(id)
    if (sub) {
      const plan = orgPlanById(ctx, sub.plan)
      return { plan, source: 'subscription', subscriptionId: sub.id, interval: sub.billing_interval, netDays: netDaysOf(plan) }
    }
    return { plan: ctx.config.plans.free, source: 'default', netDays: ctx.config.invoices.prepaidNetDays }
  })
}

/** A plan as the API shows it. */
export function planView(plan: OrgPlan | DeveloperPlan) {
  const prices = Object.fromEntries(Object.entries(plan.prices).map(([k, p]) => [k, p ? { amountUsd: p.amountUsd, available: Boolean(p.stripePriceId) } : null]))
  if ('limits' in plan) return { id: plan.id, name: plan.name, limits: plan.limits, prices, ...(plan.netDays ? { netDays: plan.netDays } : {}), assignedByAdmin: Boolean(plan.assignedByAdmin) }
  return { id: plan.id, name: plan.name, monthlyCreditsUsd: (Number(plan.monthlyCredits / 10_000_000_000n) / 100).toFixed(2), prices }
}
