import type Stripe from 'stripe'
import { ensureAccountCommitted } from './accounts.js'
import { failureKey } from './auto-topup.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, rows, withRetry } from './commerce-db.js'
import { customerByStripeId, saveDefaultPaymentMethod } from './customers.js'
import { markRedemption } from './discount-codes.js'
import { markInvoicePaidByStripe } from './invoices.js'
import { creditPayment, findPayment, recordFailure } from './payments.js'
import { applyRefund, type RefundLike } from './refunds.js'
import { grantDeveloperCredits, monthOf, syncSubscription } from './subscriptions.js'

/** What processing one event did. */
export type WebhookOutcome = 'processed' | 'duplicate' | 'ignored'

function idOf(value: string | { id: string } | null | undefined): string | undefined {
  return typeof value === 'string' ? value : (value?.id ?? undefined)
}

/**
 * Things to fetch from Stripe before the transaction opens: the handlers act on Stripe's current
 * state of a subscription or refund, not on the event's snapshot, so out-of-order deliveries
 * converge. Network calls stay outside the database transaction.
 */
async function prefetch(ctx: CommerceContext, event: Stripe.Event): Promise<{ subscription?: Stripe.Subscription; refunds?: RefundLike[]; customer?: Stripe.Customer }> {
  const stripe = ctx.stripe
  if (!stripe) return {}
  const obj = event.data.object as unknown as Record<string, unknown>
  if (event.type === 'customer.updated') {
    const customer = await stripe.customers.retrieve(String(obj.id))
    return 'deleted' in customer && customer.deleted ? {} : { customer: customer as Stripe.Customer }
  }
  if (event.type.startsWith('customer.subscription.')) return { subscription: await stripe.subscriptions.retrieve(String(obj.id)) }
  if (event.type === 'checkout.session.completed' && obj.mode === 'subscription' && obj.subscription) {
    return { subscription: await stripe.subscriptions.retrieve(idOf(obj.subscription as string)!) }
  }
  if (event.type === 'invoice.paid' || event.type === 'invoice.payment_succeeded') {
    const subId = subscriptionOfInvoice(event.data.object as Stripe.Invoice)
    return subId ? { subscription: await stripe.subscriptions.retrieve(subId) } : {}
  }
  if (event.type === 'refund.created' || event.type === 'refund.updated' || event.type === 'refund.failed' || event.type === 'charge.refund.updated') {
    return { refunds: await withPaymentIds(ctx, [await stripe.refunds.retrieve(String(obj.id))]) }
  }
  if (event.type === 'charge.refunded') {
    const pi = idOf(obj.payment_intent as string)
    if (!pi) return {}
    const list = await stripe.refunds.list({ payment_intent: pi, limit: 100 })
    return { refunds: await withPaymentIds(ctx, list.data) }
  }
  return {}
}

/**
 * A refund made in Stripe's dashboard carries no metadata of ours, and its event may arrive
 * before the payment's own events told us the PaymentIntent id: the PaymentIntent's metadata
 * names our payment, so the refund is matched whatever the order.
 */
async function withPaymentIds(ctx: CommerceContext, refunds: Stripe.Refund[]): Promise<RefundLike[]> {
  const out: RefundLike[] = []
  for (const r of refunds) {
    const pi = idOf(r.payment_intent as string)
    if (r.metadata?.tollgate_payment_id || !pi) {
      out.push(r)
      continue
    }
    const intent = await ctx.stripe!.paymentIntents.retrieve(pi)
    out.push({ ...r, metadata: { ...(r.metadata ?? {}), ...(intent.metadata?.tollgate_payment_id ? { tollgate_payment_id: intent.metadata.tollgate_payment_id } : {}) } })
  }
  return out
}

function subscriptionOfInvoice(invoice: Stripe.Invoice): string | undefined {
  const parent = (invoice as unknown as { parent?: { subscription_details?: { subscription?: string | { id: string } } } }).parent
  return idOf(parent?.subscription_details?.subscription) ?? idOf((invoice as unknown as { subscription?: string }).subscription)
}

/**
 * Processes a verified event exactly once. The event id is inserted into billing_stripe_event in
 * the same transaction as the ledger entries it causes: a duplicate delivered later finds the row
 * and does nothing; one delivered concurrently waits on the row's unique key and then does
 * nothing; a failed run rolls both back so Stripe's retry processes it again. Across different
 * events about the same payment, the ledger's idempotency keys (derived from our payment id)
 * keep it to one credit per payment and one debit per refund.
 */
export async function handleStripeEvent(ctx: CommerceContext, event: Stripe.Event): Promise<WebhookOutcome> {
  const fetched = await prefetch(ctx, event)
  const md = (event.data.object as { metadata?: Stripe.Metadata | null }).metadata ?? fetched.subscription?.metadata
  if (md?.tollgate_organization_id) await ensureAccountCommitted(ctx.host, md.tollgate_user_id ? { organizationId: md.tollgate_organization_id, userId: md.tollgate_user_id } : { organizationId: md.tollgate_organization_id })
  return withRetry(ctx.host.db, async (em) => {
    const fresh = await rows(em, 'insert into billing_stripe_event (event_id, type, stripe_created) values (?, ?, to_timestamp(?)) on conflict (event_id) do nothing returning event_id', [
      event.id,
      event.type,
      event.created,
    ])
    if (fresh.length === 0) return 'duplicate'
    return (await dispatch(ctx, em, event, fetched)) ? 'processed' : 'ignored'
  })
}

async function dispatch(ctx: CommerceContext, em: Em, event: Stripe.Event, fetched: Awaited<ReturnType<typeof prefetch>>): Promise<boolean> {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object as Stripe.Checkout.Session
      if (session.mode === 'subscription') {
        if (fetched.subscription) await syncSubscription(ctx, em, fetched.subscription)
        return true
      }
      if (session.payment_status !== 'paid') return true
      const payment = await findPayment(em, { paymentId: session.metadata?.tollgate_payment_id ?? session.client_reference_id ?? undefined, sessionId: session.id })
      if (!payment) return false
      const pi = idOf(session.payment_intent as string)
      if (pi) await rows(em, 'update billing_payment set stripe_payment_intent_id = ? where id = ? and stripe_payment_intent_id is null returning id', [pi, payment.id])
      await creditPayment(ctx, em, payment, { paymentIntentId: pi })
      return true
    }
    case 'checkout.session.expired': {
      const session = event.data.object as Stripe.Checkout.Session
      const payment = await findPayment(em, { paymentId: session.metadata?.tollgate_payment_id, sessionId: session.id })
      if (payment?.status !== 'pending') return false
      await rows(em, "update billing_payment set status = 'expired', updated_at = now() where id = ? and status = 'pending' returning id", [payment.id])
      await markRedemption(em, payment.id, 'released')
      return true
    }
    case 'checkout.session.async_payment_failed': {
      const session = event.data.object as Stripe.Checkout.Session
      const payment = await findPayment(em, { paymentId: session.metadata?.tollgate_payment_id, sessionId: session.id })
      if (!payment) return false
      await recordFailure(ctx, em, { organizationId: payment.organization_id, userId: payment.user_id, payment, kind: payment.kind, dedupeKey: `checkout-failure:${session.id}`, code: 'async_payment_failed', message: 'The delayed payment failed' })
      return true
    }
    case 'payment_intent.succeeded': {
      const pi = event.data.object as Stripe.PaymentIntent
      const payment = await findPayment(em, { paymentId: pi.metadata?.tollgate_payment_id, paymentIntentId: pi.id })
      const customer = idOf(pi.customer as string)
      const method = idOf(pi.payment_method as string)
      // A card saved for future use becomes the one auto-topup charges.
      if (customer && method && (pi.setup_future_usage === 'off_session' || pi.metadata?.tollgate_kind === 'auto_topup')) await saveDefaultPaymentMethod(em, customer, method)
      if (!payment) return false
      await rows(em, 'update billing_payment set stripe_payment_intent_id = ? where id = ? and stripe_payment_intent_id is null returning id', [pi.id, payment.id])
      await creditPayment(ctx, em, payment, { paymentIntentId: pi.id })
      return true
    }
    case 'payment_intent.payment_failed': {
      const pi = event.data.object as Stripe.PaymentIntent
      const payment = await findPayment(em, { paymentId: pi.metadata?.tollgate_payment_id, paymentIntentId: pi.id })
      const err = pi.last_payment_error
      const organizationId = payment?.organization_id ?? pi.metadata?.tollgate_organization_id
      if (!organizationId) return false
      await recordFailure(ctx, em, {
        organizationId,
        userId: payment?.user_id ?? pi.metadata?.tollgate_user_id,
        payment,
        kind: payment?.kind ?? pi.metadata?.tollgate_kind ?? 'payment',
        paymentIntentId: pi.id,
        dedupeKey: failureKey(pi.id, err?.payment_method?.id),
        code: err?.decline_code ?? err?.code ?? 'payment_failed',
        message: err?.message ?? 'The payment failed',
      })
      return true
    }
    case 'charge.refunded':
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
    case 'charge.refund.updated': {
      for (const refund of fetched.refunds ?? []) await applyRefund(ctx, em, refund)
      return true
    }
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
    case 'customer.subscription.paused':
    case 'customer.subscription.resumed': {
      if (fetched.subscription) await syncSubscription(ctx, em, fetched.subscription)
      return true
    }
    case 'invoice.paid':
    case 'invoice.payment_succeeded': {
      const invoice = event.data.object as Stripe.Invoice
      if (fetched.subscription) {
        const row = await syncSubscription(ctx, em, fetched.subscription)
        const start = (invoice.lines?.data?.[0] as unknown as { period?: { start?: number } } | undefined)?.period?.start ?? invoice.period_start
        if (row) await grantDeveloperCredits(ctx, em, row, monthOf(new Date(start * 1000)))
      }
      await markInvoicePaidByStripe(ctx, em, invoice)
      return true
    }
    case 'invoice.payment_failed': {
      const invoice = event.data.object as Stripe.Invoice
      const customer = idOf(invoice.customer as string)
      const row = customer ? await customerByStripeId(em, customer) : undefined
      if (!row) return false
      await recordFailure(ctx, em, {
        organizationId: row.organization_id,
        userId: row.user_id,
        kind: 'subscription_invoice',
        dedupeKey: `invoice-failure:${invoice.id}:${invoice.attempt_count ?? 0}`,
        code: 'invoice_payment_failed',
        message: `Payment of Stripe invoice ${invoice.id} failed (attempt ${invoice.attempt_count ?? 0})`,
      })
      return true
    }
    case 'customer.updated': {
      // The card chosen in the portal, as Stripe holds it now (not the event's snapshot).
      const customer = fetched.customer
      if (!customer) return false
      const pm = idOf(customer.invoice_settings?.default_payment_method as string)
      if (pm) await saveDefaultPaymentMethod(em, customer.id, pm)
      return Boolean(pm)
    }
    default:
      return false
  }
}
