import { randomUUID } from 'node:crypto'
import { TollgateError } from '@tollgate/core'
import type Stripe from 'stripe'
import type { LedgerAccountRef } from '../ledger/ledger-types.js'
import { accountKey, ensureAccountCommitted } from './accounts.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, inTransaction, one, reader, rows, withRetry } from './commerce-db.js'
import { ensureCustomer, requireStripe } from './customers.js'
import { developerPlanById, orgPlanById } from './plans.js'
import { planOfPrice } from './plans.js'
import { stripeFailure } from './stripe-client.js'

/** A row of billing_subscription. */
export interface SubscriptionRow {
  id: string
  account_key: string
  organization_id: string
  user_id: string | null
  kind: 'organization' | 'developer'
  plan: string
  billing_interval: 'month' | 'year'
  status: string
  current_period_start: Date | string | null
  current_period_end: Date | string | null
  cancel_at_period_end: boolean
  source: 'stripe' | 'development'
}

/** A subscription as the API shows it. */
export function subscriptionView(s: SubscriptionRow | undefined) {
  if (!s) return null
  return {
    id: s.id,
    kind: s.kind,
    plan: s.plan,
    interval: s.billing_interval,
    status: s.status,
    currentPeriodStart: s.current_period_start ? new Date(s.current_period_start).toISOString() : null,
    currentPeriodEnd: s.current_period_end ? new Date(s.current_period_end).toISOString() : null,
    cancelAtPeriodEnd: s.cancel_at_period_end,
    source: s.source,
  }
}

/** The account's newest live subscription of a kind. */
export function liveSubscription(em: Em, account: LedgerAccountRef, kind: SubscriptionRow['kind']): Promise<SubscriptionRow | undefined> {
  return one<SubscriptionRow>(
    em,
    "select * from billing_subscription where account_key = ? and kind = ? and status in ('active','trialing','past_due','incomplete') order by updated_at desc limit 1",
    [accountKey(account), kind],
  )
}

/** The UTC calendar month ("2026-11") of a date. */
export function monthOf(date: Date): string {
  return date.toISOString().slice(0, 7)
}

/**
 * Grants a developer plan's monthly credits for one calendar month, once: the ledger key names
 * the subscription and the month, so the invoice.paid webhook, the monthly worker and a retry
 * all converge on one entry (yearly plans get their credits month by month too).
 */
export async function grantDeveloperCredits(ctx: CommerceContext, em: Em, sub: SubscriptionRow, month: string): Promise<boolean> {
  if (sub.kind !== 'developer' || !['active', 'trialing'].includes(sub.status)) return false
  const plan = developerPlanById(ctx, sub.plan)
  if (plan.monthlyCredits <= 0n) return false
  const r = await ctx.ledger.post(
    {
      account: { organizationId: sub.organization_id, ...(sub.user_id ? { userId: sub.user_id } : {}) },
      type: 'purchase',
      amount: plan.monthlyCredits,
      idempotencyKey: `plan-credits:${sub.id}:${month}`,
      description: `${plan.name} developer plan credits for ${month}`,
      reference: { kind: 'subscription', id: sub.id },
      actor: { type: 'system', id: 'plans' },
      metadata: { plan: plan.id, month, subscriptionId: sub.id },
    },
    em,
  )
  return !r.duplicate
}

function itemOf(sub: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  return sub.items?.data?.[0]
}

function periodOf(sub: Stripe.Subscription): { start: number | null; end: number | null } {
  const item = itemOf(sub) as (Stripe.SubscriptionItem & { current_period_start?: number; current_period_end?: number }) | undefined
  const top = sub as unknown as { current_period_start?: number; current_period_end?: number }
  return { start: item?.current_period_start ?? top.current_period_start ?? null, end: item?.current_period_end ?? top.current_period_end ?? null }
}

/**
 * Stores a subscription as Stripe reports it now. Webhooks call this with a freshly retrieved
 * subscription, never with the event's snapshot, so events arriving in any order converge on
 * Stripe's current state.
 */
export async function syncSubscription(ctx: CommerceContext, em: Em, sub: Stripe.Subscription): Promise<SubscriptionRow | undefined> {
  const md = sub.metadata ?? {}
  const price = itemOf(sub)?.price
  const byPrice = price?.id ? planOfPrice(ctx, price.id) : undefined
  const organizationId = md.tollgate_organization_id
  if (!organizationId) {
    ctx.host.log.warn({ subscriptionId: sub.id }, 'subscription without tollgate metadata; ignored')
    return undefined
  }
  const userId = md.tollgate_user_id || null
  const kind = (byPrice?.kind ?? md.tollgate_kind) as SubscriptionRow['kind']
  const plan = byPrice?.plan ?? md.tollgate_plan
  const interval = (price?.recurring?.interval ?? byPrice?.interval ?? md.tollgate_interval ?? 'month') as 'month' | 'year'
  if (kind !== 'organization' && kind !== 'developer') return undefined
  const before = await one<SubscriptionRow>(em, 'select * from billing_subscription where id = ? for update', [sub.id])
  const { start, end } = periodOf(sub)
  const account = userId ? { organizationId, userId } : { organizationId }
  const [after] = await rows<SubscriptionRow>(
    em,
    `insert into billing_subscription (id, account_key, organization_id, user_id, kind, plan, billing_interval, status, current_period_start, current_period_end, cancel_at_period_end, source)
     values (?, ?, ?, ?, ?, ?, ?, ?, to_timestamp(?), to_timestamp(?), ?, 'stripe')
     on conflict (id) do update set plan = excluded.plan, billing_interval = excluded.billing_interval, status = excluded.status,
       current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
       cancel_at_period_end = excluded.cancel_at_period_end, updated_at = now()
     returning *`,
    [sub.id, accountKey(account), organizationId, userId, kind, plan, interval, sub.status, start, end, Boolean(sub.cancel_at_period_end)],
  )
  const changed = !before || before.plan !== after.plan || before.status !== after.status || before.billing_interval !== after.billing_interval || before.cancel_at_period_end !== after.cancel_at_period_end
  if (changed) {
    await ctx.host.events.emit(
      'subscription.changed',
      { organizationId, ...(userId ? { userId } : {}), subscriptionId: sub.id, ...(before ? { before: subscriptionView(before) ?? undefined } : {}), after: subscriptionView(after) ?? undefined },
      { organizationId, actor: { type: 'system', id: 'stripe' }, em },
    )
  }
  if (after.kind === 'developer') await grantDeveloperCredits(ctx, em, after, monthOf(new Date()))
  return after
}

/** What starting or changing a subscription gave. */
export type SubscribeResult = { mode: 'checkout'; url: string; sessionId: string } | { mode: 'updated' | 'development'; subscription: ReturnType<typeof subscriptionView> }

/**
 * Subscribes an account to a plan, or moves its live subscription to another plan or interval.
 * With Stripe: a new subscriber goes through a Checkout session in subscription mode; an existing
 * one is updated in place (prorated). In development mode without Stripe the subscription is
 * recorded at once.
 */
export async function subscribe(
  ctx: CommerceContext,
  account: LedgerAccountRef,
  kind: SubscriptionRow['kind'],
  planId: string,
  interval: 'month' | 'year',
  actor: { userId: string },
): Promise<SubscribeResult> {
  const plan = kind === 'organization' ? orgPlanById(ctx, planId) : developerPlanById(ctx, planId)
  const price = plan.prices[interval]
  await ensureAccountCommitted(ctx.host, account)
  if (!price) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `interval: plan "${planId}" has no ${interval}ly price`, { field: 'interval' })
  if (!ctx.stripe) {
    if (!ctx.config.devMode) requireStripe(ctx)
    const sub = await withRetry(ctx.host.db, async (em) => {
      const live = await liveSubscription(em, account, kind)
      const now = new Date()
      const end = new Date(now)
      if (interval === 'month') end.setUTCMonth(end.getUTCMonth() + 1)
      else end.setUTCFullYear(end.getUTCFullYear() + 1)
      const id = live?.id ?? `dev_sub_${randomUUID()}`
      const [after] = await rows<SubscriptionRow>(
        em,
        `insert into billing_subscription (id, account_key, organization_id, user_id, kind, plan, billing_interval, status, current_period_start, current_period_end, source)
         values (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, 'development')
         on conflict (id) do update set plan = excluded.plan, billing_interval = excluded.billing_interval, status = 'active', cancel_at_period_end = false, updated_at = now()
         returning *`,
        [id, accountKey(account), account.organizationId, account.userId ?? null, kind, planId, interval, now.toISOString(), end.toISOString()],
      )
      await ctx.host.events.emit(
        'subscription.changed',
        { organizationId: account.organizationId, ...(account.userId ? { userId: account.userId } : {}), subscriptionId: id, ...(live ? { before: subscriptionView(live) ?? undefined } : {}), after: subscriptionView(after) ?? undefined },
        { organizationId: account.organizationId, actor: { type: 'user', id: actor.userId }, em },
      )
      if (kind === 'developer') await grantDeveloperCredits(ctx, em, after, monthOf(now))
      return after
    })
    return { mode: 'development', subscription: subscriptionView(sub) }
  }
  const stripe = ctx.stripe
  if (!price.stripePriceId) {
    throw new TollgateError('TOLLGATE_ERR_PAYMENT_NOT_CONFIGURED', `Plan "${planId}" has no Stripe price for ${interval}ly billing (set ${kind === 'organization' ? 'plans' : 'developerPlans'}.${planId}.prices.${interval}.stripePriceId)`)
  }
  const metadata = {
    tollgate_organization_id: account.organizationId,
    ...(account.userId ? { tollgate_user_id: account.userId } : {}),
    tollgate_kind: kind,
    tollgate_plan: planId,
    tollgate_interval: interval,
  }
  const live = await liveSubscription(reader(ctx.host.db), account, kind)
  try {
    if (live && live.source === 'stripe') {
      const current = await stripe.subscriptions.retrieve(live.id)
      const item = current.items.data[0]
      const updated = await stripe.subscriptions.update(live.id, {
        items: [{ id: item.id, price: price.stripePriceId }],
        proration_behavior: 'create_prorations',
        cancel_at_period_end: false,
        metadata,
      })
      const row = await withRetry(ctx.host.db, (em) => syncSubscription(ctx, em, updated))
      return { mode: 'updated', subscription: subscriptionView(row) }
    }
    const customer = await ensureCustomer(ctx, account)
    const s = ctx.config.stripe!
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.stripe_customer_id,
      line_items: [{ price: price.stripePriceId, quantity: 1 }],
      subscription_data: { metadata },
      metadata,
      success_url: s.successUrl,
      cancel_url: s.cancelUrl,
    })
    return { mode: 'checkout', url: session.url ?? '', sessionId: session.id }
  } catch (err) {
    throw stripeFailure(err, 'Changing the subscription')
  }
}

/** Cancels the account's live subscription at the end of its period. */
export async function cancelSubscription(ctx: CommerceContext, account: LedgerAccountRef, kind: SubscriptionRow['kind'], actor: { userId: string }) {
  const live = await liveSubscription(reader(ctx.host.db), account, kind)
  if (!live) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'No live subscription to cancel')
  if (live.source === 'stripe') {
    const stripe = requireStripe(ctx)
    let updated: Stripe.Subscription
    try {
      updated = await stripe.subscriptions.update(live.id, { cancel_at_period_end: true })
    } catch (err) {
      throw stripeFailure(err, 'Cancelling the subscription')
    }
    return subscriptionView(await withRetry(ctx.host.db, (em) => syncSubscription(ctx, em, updated)))
  }
  return subscriptionView(
    await inTransaction(ctx.host.db, async (em) => {
      const [after] = await rows<SubscriptionRow>(em, 'update billing_subscription set cancel_at_period_end = true, updated_at = now() where id = ? returning *', [live.id])
      await ctx.host.events.emit(
        'subscription.changed',
        { organizationId: live.organization_id, subscriptionId: live.id, before: subscriptionView(live) ?? undefined, after: subscriptionView(after) ?? undefined },
        { organizationId: live.organization_id, actor: { type: 'user', id: actor.userId }, em },
      )
      return after
    }),
  )
}

/**
 * The monthly work of development-mode subscriptions and developer plans: ends development
 * subscriptions past their period end when cancelled (or rolls them over), and grants each live
 * developer plan its credits for the current month.
 */
export async function runSubscriptionMaintenance(ctx: CommerceContext, em: Em, now = new Date()): Promise<number> {
  await rows(em, "update billing_subscription set status = 'canceled', updated_at = now() where source = 'development' and cancel_at_period_end and current_period_end < ? and status = 'active' returning id", [now.toISOString()])
  const live = await rows<SubscriptionRow>(em, "select * from billing_subscription where kind = 'developer' and status in ('active','trialing') order by id limit 5000")
  let granted = 0
  for (const sub of live) if (await grantDeveloperCredits(ctx, em, sub, monthOf(now))) granted++
  return granted
}
