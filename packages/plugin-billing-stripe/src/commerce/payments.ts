import { randomUUID } from 'node:crypto'
import { formatUsd } from '@tollgate/core'
import type { LedgerActor, LedgerTxType } from '../ledger/ledger-types.js'
import { accountKey, accountOfRow } from './accounts.js'
import { PICO_PER_CENT } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, one, rows } from './commerce-db.js'
import { markRedemption } from './discount-codes.js'
import { rewardReferrer } from './referrals.js'

/** A row of billing_payment. */
export interface PaymentRow {
  id: string
  organization_id: string
  user_id: string | null
  kind: 'credit_package' | 'auto_topup' | 'development'
  package_id: string | null
  status: 'pending' | 'succeeded' | 'failed' | 'expired'
  amount_cents: number
  currency: string
  credits: string
  bonus_credits: string
  discount_code: string | null
  discount_cents: number
  stripe_checkout_session_id: string | null
  stripe_payment_intent_id: string | null
  refunded_cents: number
  failure_code: string | null
  failure_message: string | null
  created_by: string | null
  created_at: Date | string
  succeeded_at: Date | string | null
}

/** A new payment, before Stripe is involved. */
export interface NewPayment {
  organizationId: string
  userId?: string
  kind: PaymentRow['kind']
  packageId?: string
  amountCents: number
  credits: bigint
  bonusCredits: bigint
  currency: string
  discountCode?: string
  discountCents?: number
  createdBy?: string
}

/** Inserts a pending payment and returns its id. */
export async function insertPayment(em: Em, p: NewPayment): Promise<string> {
  const id = randomUUID()
  await rows(
    em,
    `insert into billing_payment (id, organization_id, user_id, kind, package_id, status, amount_cents, currency, credits, bonus_credits, discount_code, discount_cents, created_by)
     values (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?) returning id`,
    [id, p.organizationId, p.userId ?? null, p.kind, p.packageId ?? null, p.amountCents, p.currency, p.credits.toString(), p.bonusCredits.toString(), p.discountCode ?? null, p.discountCents ?? 0, p.createdBy ?? null],
  )
  return id
}

/** A payment by id, locked for the transaction. */
export function lockPayment(em: Em, id: string): Promise<PaymentRow | undefined> {
  return one<PaymentRow>(em, 'select * from billing_payment where id = ? for update', [id])
}

/** Finds a payment by our id (from Stripe metadata), its PaymentIntent or its Checkout session, locked. */
export async function findPayment(em: Em, ref: { paymentId?: string; paymentIntentId?: string; sessionId?: string }): Promise<PaymentRow | undefined> {
  if (ref.paymentId && /^[0-9a-f-]{36}$/i.test(ref.paymentId)) {
    const p = await lockPayment(em, ref.paymentId)
    if (p) return p
  }
  if (ref.paymentIntentId) {
    const p = await one<PaymentRow>(em, 'select * from billing_payment where stripe_payment_intent_id = ? for update', [ref.paymentIntentId])
    if (p) return p
  }
  if (ref.sessionId) return one<PaymentRow>(em, 'select * from billing_payment where stripe_checkout_session_id = ? for update', [ref.sessionId])
  return undefined
}

/**
 * Credits a succeeded payment to its account, exactly once: the ledger entries carry idempotency
 * keys derived from the payment id, so a Checkout completion, a PaymentIntent success, the API
 * answer of an auto-topup and any redelivery all converge on the same entries. Runs in the
 * caller's transaction; returns true when this call did the crediting.
 */
export async function creditPayment(ctx: CommerceContext, em: Em, payment: PaymentRow, opts: { paymentIntentId?: string; actor?: LedgerActor; ip?: string; userAgent?: string } = {}): Promise<boolean> {
  const account = accountOfRow(payment)
  const credits = BigInt(payment.credits)
  const bonus = BigInt(payment.bonus_credits)
  const type: LedgerTxType = payment.kind === 'auto_topup' ? 'auto_topup' : 'purchase'
  const reference = { kind: 'billing_payment', id: payment.id }
  const actor = opts.actor ?? { type: 'system' as const, id: 'stripe' }
  const metadata = {
    paymentId: payment.id,
    packageId: payment.package_id,
    amountCents: payment.amount_cents,
    stripePaymentIntentId: opts.paymentIntentId ?? payment.stripe_payment_intent_id,
    development: payment.kind === 'development',
  }
  let fresh = false
  if (credits > 0n) {
    const r = await ctx.ledger.post({ account, type, amount: credits, idempotencyKey: `payment:${payment.id}:${type}`, description: describe(payment), reference, actor, metadata }, em)
    fresh = !r.duplicate
  }
  if (bonus > 0n) {
    const r = await ctx.ledger.post({ account, type: 'bonus', amount: bonus, idempotencyKey: `payment:${payment.id}:bonus`, description: `Bonus credits of ${payment.package_id ?? 'a purchase'}`, reference, actor, metadata }, em)
    fresh ||= !r.duplicate
  }
  if (payment.status !== 'succeeded') {
    await rows(
      em,
      "update billing_payment set status = 'succeeded', succeeded_at = coalesce(succeeded_at, now()), updated_at = now(), stripe_payment_intent_id = coalesce(stripe_payment_intent_id, ?) where id = ? returning id",
      [opts.paymentIntentId ?? null, payment.id],
    )
  }
  if (!fresh) return false
  ctx.metrics.payments.inc({ kind: payment.kind, outcome: 'succeeded' })
  // Credits that lift the balance back to the auto-topup threshold end the crossing: the next fall below it may charge again.
  const balance = await ctx.ledger.balance(account, em)
  await rows(em, 'update billing_auto_topup set armed = true, updated_at = now() where account_key = ? and not armed and threshold <= ? returning account_key', [accountKey(account), balance.toString()])
  if (payment.discount_code) {
    await markRedemption(em, payment.id, 'redeemed')
    await ctx.host.events.emit('billing.discountRedeemed', { organizationId: payment.organization_id, code: payment.discount_code, paymentId: payment.id }, { organizationId: payment.organization_id, actor, em })
  }
  await ctx.host.events.emit(
    'payment.succeeded',
    {
      organizationId: payment.organization_id,
      ...(payment.user_id ? { userId: payment.user_id } : {}),
      paymentId: payment.id,
      kind: payment.kind,
      amountCents: payment.amount_cents,
      credits: formatUsd(credits + bonus),
      ...(opts.paymentIntentId ? { stripePaymentIntentId: opts.paymentIntentId } : {}),
    },
    { organizationId: payment.organization_id, actor, ip: opts.ip, userAgent: opts.userAgent, em },
  )
  // A referred organization's first real purchase pays its referrer.
  if (payment.kind !== 'development' && payment.amount_cents > 0) await rewardReferrer(ctx, em, payment.organization_id)
  return true
}

function describe(p: PaymentRow): string {
  const usd = formatUsd(BigInt(p.amount_cents) * PICO_PER_CENT)
  if (p.kind === 'auto_topup') return `Auto-topup charge of $${usd}`
  if (p.kind === 'development') return `Credits of package ${p.package_id} (development mode, no payment)`
  return `Purchase of package ${p.package_id} for $${usd}`
}

/** Records a payment failure once per `dedupeKey`, marks a pending payment failed and emits payment.failed. */
export async function recordFailure(
  ctx: CommerceContext,
  em: Em,
  f: { organizationId: string; userId?: string | null; payment?: PaymentRow; kind: string; paymentIntentId?: string; dedupeKey: string; code?: string; message?: string },
): Promise<boolean> {
  const inserted = await rows(
    em,
    `insert into billing_payment_failure (id, organization_id, user_id, payment_id, kind, stripe_payment_intent_id, dedupe_key, code, message)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (dedupe_key) do nothing returning id`,
    [randomUUID(), f.organizationId, f.userId ?? null, f.payment?.id ?? null, f.kind, f.paymentIntentId ?? null, f.dedupeKey, f.code ?? null, f.message ?? null],
  )
  if (inserted.length === 0) return false
  ctx.metrics.payments.inc({ kind: f.kind, outcome: 'failed' })
  // A later success wins over an earlier failure whatever order the events come in: only pending payments turn failed.
  if (f.payment) {
    await rows(em, "update billing_payment set status = 'failed', failure_code = ?, failure_message = ?, updated_at = now() where id = ? and status = 'pending' returning id", [
      f.code ?? null,
      f.message ?? null,
      f.payment.id,
    ])
  }
  await ctx.host.events.emit(
    'payment.failed',
    {
      organizationId: f.organizationId,
      ...(f.userId ? { userId: f.userId } : {}),
      ...(f.payment ? { paymentId: f.payment.id } : {}),
      kind: f.kind,
      ...(f.code ? { code: f.code } : {}),
      ...(f.message ? { message: f.message } : {}),
      ...(f.paymentIntentId ? { stripePaymentIntentId: f.paymentIntentId } : {}),
    },
    { organizationId: f.organizationId, actor: { type: 'system', id: 'stripe' }, em },
  )
  return true
}

/** A payment as the API shows it. */
export function paymentView(p: PaymentRow) {
  return {
    id: p.id,
    organizationId: p.organization_id,
    ...(p.user_id ? { userId: p.user_id } : {}),
    kind: p.kind,
    packageId: p.package_id,
    status: p.status,
    amountUsd: formatUsd(BigInt(p.amount_cents) * PICO_PER_CENT),
    currency: p.currency,
    creditsUsd: formatUsd(BigInt(p.credits)),
    bonusCreditsUsd: formatUsd(BigInt(p.bonus_credits)),
    discountCode: p.discount_code,
    discountUsd: formatUsd(BigInt(p.discount_cents) * PICO_PER_CENT),
    refundedUsd: formatUsd(BigInt(p.refunded_cents) * PICO_PER_CENT),
    stripePaymentIntentId: p.stripe_payment_intent_id,
    stripeCheckoutSessionId: p.stripe_checkout_session_id,
    failure: p.failure_code || p.failure_message ? { code: p.failure_code, message: p.failure_message } : null,
    createdAt: new Date(p.created_at).toISOString(),
    succeededAt: p.succeeded_at ? new Date(p.succeeded_at).toISOString() : null,
  }
}
