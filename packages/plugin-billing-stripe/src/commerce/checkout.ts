import { TollgateError, formatUsd } from '@tollgate/core'
import type { LedgerAccountRef } from '../ledger/ledger-types.js'
import { ensureAccountCommitted } from './accounts.js'
import type { CreditPackage } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import { inTransaction, rows } from './commerce-db.js'
import { ensureCustomer, requireStripe } from './customers.js'
import { holdRedemption, markRedemption } from './discount-codes.js'
import { creditPayment, insertPayment, lockPayment, paymentView } from './payments.js'
import { stripeFailure } from './stripe-client.js'

/** Who starts a checkout, for the ledger's actor and the audit trail. */
export interface Buyer {
  userId: string
  apiKeyId?: string
  ip?: string
  userAgent?: string
}

/** The outcome of a checkout: a Stripe Checkout URL to send the buyer to, or credits granted at once. */
export type CheckoutResult =
  | { mode: 'stripe'; paymentId: string; sessionId: string; url: string; amountUsd: string }
  | { mode: 'granted'; reason: 'development' | 'free'; payment: ReturnType<typeof paymentView> }

/** The configured package with this id, or a 400 naming the field. */
export function packageById(ctx: CommerceContext, id: string): CreditPackage {
  const pkg = ctx.config.creditPackages.find((p) => p.id === id)
  if (!pkg) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `packageId: no credit package "${id}" (known: ${ctx.config.creditPackages.map((p) => p.id).join(', ')})`, { field: 'packageId' })
  return pkg
}

/**
 * Starts the purchase of a credit package. In development mode (or when a discount makes it
 * free) the credits are granted at once; otherwise a Stripe Checkout session is created whose
 * PaymentIntent carries the payment's id, and the credits arrive with the webhook.
 */
export async function startCheckout(ctx: CommerceContext, account: LedgerAccountRef, packageId: string, buyer: Buyer, discountCode?: string): Promise<CheckoutResult> {
  const pkg = packageById(ctx, packageId)
  await ensureAccountCommitted(ctx.host, account)
  const development = ctx.config.devMode
  if (!development) requireStripe(ctx)
  const currency = ctx.config.stripe?.currency ?? 'usd'
  // The payment row and the discount hold commit together, before Stripe is called.
  const { paymentId, price } = await inTransaction(ctx.host.db, async (em) => {
    const id = await insertPayment(em, {
      organizationId: account.organizationId,
      userId: account.userId,
      kind: development ? 'development' : 'credit_package',
      packageId: pkg.id,
      amountCents: pkg.priceCents,
      credits: pkg.credits,
      bonusCredits: pkg.bonusCredits,
      currency,
      createdBy: buyer.userId,
    })
    let price = pkg.priceCents
    if (discountCode) {
      const held = await holdRedemption(em, discountCode, account.organizationId, id, pkg.priceCents)
      price -= held.discountCents
      // Stripe charges at least 50 cents; below that the discount makes the package free.
      if (price > 0 && price < 50) price = 0
      await rows(em, 'update billing_payment set discount_code = ?, discount_cents = ?, amount_cents = ? where id = ? returning id', [held.code, pkg.priceCents - price, price, id])
    }
    return { paymentId: id, price }
  })
  const actor = buyer.apiKeyId ? { type: 'api_key' as const, id: buyer.apiKeyId } : { type: 'user' as const, id: buyer.userId }
  if (development || price === 0) {
    const payment = await inTransaction(ctx.host.db, async (em) => {
      const p = await lockPayment(em, paymentId)
      if (!p) throw new Error(`payment ${paymentId} vanished`)
      await creditPayment(ctx, em, p, { actor, ip: buyer.ip, userAgent: buyer.userAgent })
      return (await lockPayment(em, paymentId))!
    })
    return { mode: 'granted', reason: development ? 'development' : 'free', payment: paymentView(payment) }
  }
  const stripe = requireStripe(ctx)
  const s = ctx.config.stripe!
  try {
    const customer = await ensureCustomer(ctx, account)
    const metadata = {
      tollgate_payment_id: paymentId,
      tollgate_kind: 'credit_package',
      tollgate_organization_id: account.organizationId,
      ...(account.userId ? { tollgate_user_id: account.userId } : {}),
      tollgate_package_id: pkg.id,
    }
    const session = await stripe.checkout.sessions.create(
      {
        mode: 'payment',
        customer: customer.stripe_customer_id,
        client_reference_id: paymentId,
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency,
              unit_amount: price,
              product_data: { name: `${pkg.name} credits`, description: `$${formatUsd(pkg.credits)} of credits${pkg.bonusCredits > 0n ? ` + $${formatUsd(pkg.bonusCredits)} bonus` : ''}` },
            },
          },
        ],
        // The card is saved for off-session auto-topup charges.
        payment_intent_data: { metadata, setup_future_usage: 'off_session' },
        metadata,
        success_url: s.successUrl,
        cancel_url: s.cancelUrl,
      },
      { idempotencyKey: `tollgate-checkout:${paymentId}` },
    )
    await rows(ctx.host.db.orm.em.fork(), 'update billing_payment set stripe_checkout_session_id = ?, updated_at = now() where id = ? returning id', [session.id, paymentId])
    return { mode: 'stripe', paymentId, sessionId: session.id, url: session.url ?? '', amountUsd: formatUsd(BigInt(price) * 10_000_000_000n) }
  } catch (err) {
    // Nothing was bought: give the discount's use back and close the payment.
    await inTransaction(ctx.host.db, async (em) => {
      await markRedemption(em, paymentId, 'released')
      await rows(em, "update billing_payment set status = 'failed', failure_message = ?, updated_at = now() where id = ? and status = 'pending' returning id", [String((err as Error).message).slice(0, 500), paymentId])
    })
    if (err instanceof TollgateError) throw err
    throw stripeFailure(err, 'Creating the Checkout session')
  }
}
