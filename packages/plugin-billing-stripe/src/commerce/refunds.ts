import { TollgateError, formatUsd } from '@tollgate/core'
import type Stripe from 'stripe'
import type { LedgerActor } from '../ledger/ledger-types.js'
import { accountOfRow } from './accounts.js'
import { PICO_PER_CENT } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, one, rows, withRetry } from './commerce-db.js'
import { requireStripe } from './customers.js'
import { creditPayment, findPayment, type PaymentRow } from './payments.js'
import { stripeFailure } from './stripe-client.js'

/** The part of a Stripe Refund the ledger needs. */
export type RefundLike = Pick<Stripe.Refund, 'id' | 'amount' | 'status'> & { payment_intent?: string | { id: string } | null; metadata?: Stripe.Metadata | null }

/** Credits a refund of `cents` removes: the paid share of credits plus bonus, exact across partial refunds (the parts telescope to the whole). */
export function refundCredits(payment: PaymentRow, refundedBefore: number, cents: number): bigint {
  const total = BigInt(payment.credits) + BigInt(payment.bonus_credits)
  const paid = BigInt(payment.amount_cents)
  if (paid === 0n) return 0n
  const after = (total * BigInt(refundedBefore + cents)) / paid
  const before = (total * BigInt(refundedBefore)) / paid
  return after - before
}

/**
 * Applies a refund as Stripe reports it, idempotently by refund id: a succeeded refund debits its
 * share of the payment's credits once (crediting the payment first if its own success event has
 * not arrived yet); a refund that later failed or was canceled has its debit reversed once.
 */
export async function applyRefund(ctx: CommerceContext, em: Em, refund: RefundLike): Promise<'debited' | 'reversed' | 'ignored'> {
  const pi = typeof refund.payment_intent === 'string' ? refund.payment_intent : refund.payment_intent?.id
  const payment = await findPayment(em, { paymentId: refund.metadata?.tollgate_payment_id, paymentIntentId: pi })
  if (!payment && refund.metadata?.tollgate_payment_id) {
    // Ours, but its payment row is not visible (yet): fail so Stripe delivers the event again.
    throw new Error(`refund ${refund.id} names payment ${refund.metadata.tollgate_payment_id}, which does not exist here`)
  }
  if (!payment) {
    ctx.host.log.warn({ refundId: refund.id, paymentIntentId: pi }, 'refund of a payment this gateway does not know; ignored')
    return 'ignored'
  }
  const known = await one<{ ledger_entry_id: string | null; reversed_at: unknown; amount_cents: number }>(em, 'select * from billing_refund where stripe_refund_id = ?', [refund.id])
  const actor: LedgerActor = { type: 'system', id: 'stripe' }
  if (refund.status === 'succeeded') {
    if (known) return 'ignored'
    if (payment.status !== 'succeeded') await creditPayment(ctx, em, payment, { paymentIntentId: pi })
    const credits = refundCredits(payment, payment.refunded_cents, refund.amount)
    let entryId: string | null = null
    if (credits > 0n) {
      const r = await ctx.ledger.post(
        {
          account: accountOfRow(payment),
          type: 'refund',
          amount: -credits,
          idempotencyKey: `stripe-refund:${refund.id}`,
          description: `Refund of $${formatUsd(BigInt(refund.amount) * PICO_PER_CENT)} on payment ${payment.id}`,
          reference: { kind: 'stripe_refund', id: refund.id },
          actor,
          metadata: { paymentId: payment.id, refundCents: refund.amount, stripePaymentIntentId: pi ?? null },
        },
        em,
      )
      entryId = r.entry.id
    }
    await rows(em, 'insert into billing_refund (stripe_refund_id, payment_id, organization_id, amount_cents, credits, ledger_entry_id) values (?, ?, ?, ?, ?, ?) returning stripe_refund_id', [
      refund.id,
      payment.id,
      payment.organization_id,
      refund.amount,
      credits.toString(),
      entryId,
    ])
    await rows(em, 'update billing_payment set refunded_cents = refunded_cents + ?, updated_at = now() where id = ? returning id', [refund.amount, payment.id])
    await ctx.host.events.emit(
      'payment.refunded',
      { organizationId: payment.organization_id, ...(payment.user_id ? { userId: payment.user_id } : {}), paymentId: payment.id, refundId: refund.id, amountCents: refund.amount, credits: formatUsd(credits) },
      { organizationId: payment.organization_id, actor, em },
    )
    return 'debited'
  }
  if ((refund.status === 'failed' || refund.status === 'canceled') && known && !known.reversed_at) {
    if (known.ledger_entry_id) await ctx.ledger.reverse(known.ledger_entry_id, `stripe-refund-reversal:${refund.id}`, `Refund ${refund.id} ${refund.status}`, actor, em)
    await rows(em, 'update billing_refund set reversed_at = now() where stripe_refund_id = ? returning stripe_refund_id', [refund.id])
    await rows(em, 'update billing_payment set refunded_cents = refunded_cents - ?, updated_at = now() where id = ? returning id', [known.amount_cents, payment.id])
    return 'reversed'
  }
  return 'ignored'
}

/** Refunds a payment through Stripe (all of what remains, or `amountCents`) and debits the credits at once; the webhook converges on the same entry. */
export async function refundPayment(ctx: CommerceContext, payment: PaymentRow, amountCents: number | undefined, requestKey: string, reason?: string): Promise<{ refundId: string; amountCents: number; status: string }> {
  const stripe = requireStripe(ctx)
  const remaining = payment.amount_cents - payment.refunded_cents
  const cents = amountCents ?? remaining
  if (payment.status !== 'succeeded' || !payment.stripe_payment_intent_id) {
    throw new TollgateError('TOLLGATE_ERR_PAYMENT_REFUND_INVALID', `Payment ${payment.id} was not paid through Stripe (status ${payment.status}); nothing to refund`)
  }
  if (cents <= 0 || cents > remaining) {
    throw new TollgateError('TOLLGATE_ERR_PAYMENT_REFUND_INVALID', `amountUsd: at most $${formatUsd(BigInt(remaining) * PICO_PER_CENT)} of this payment can still be refunded`, { field: 'amountUsd' })
  }
  let refund: Stripe.Refund
  try {
    refund = await stripe.refunds.create(
      { payment_intent: payment.stripe_payment_intent_id, amount: cents, metadata: { tollgate_payment_id: payment.id, ...(reason ? { tollgate_reason: reason.slice(0, 400) } : {}) } },
      { idempotencyKey: `tollgate-refund:${payment.id}:${requestKey}` },
    )
  } catch (err) {
    throw stripeFailure(err, 'Refunding the payment')
  }
  await withRetry(ctx.host.db, (em) => applyRefund(ctx, em, refund))
  return { refundId: refund.id, amountCents: refund.amount, status: refund.status ?? 'pending' }
}
