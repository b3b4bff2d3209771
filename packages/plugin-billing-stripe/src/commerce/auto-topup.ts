import { formatUsd } from '@tollgate/core'
import type Stripe from 'stripe'
import type { LedgerAccountRef } from '../ledger/ledger-types.js'
import { accountFromKey, accountKey, ensureAccountCommitted } from './accounts.js'
import { PICO_PER_CENT } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, inTransaction, one, reader, rows, withRetry } from './commerce-db.js'
import { customerOf } from './customers.js'
import { creditPayment, insertPayment, lockPayment, recordFailure } from './payments.js'

/** A row of billing_auto_topup. */
export interface AutoTopupRow {
  account_key: string
  organization_id: string
  user_id: string | null
  enabled: boolean
  threshold: string
  amount_cents: number
  armed: boolean
  crossing: number
  last_payment_intent_id: string | null
  last_charged_at: Date | string | null
  last_failure: string | null
}

/** What a check did. */
export type AutoTopupOutcome = 'disabled' | 'above-threshold' | 'already-charged-this-crossing' | 'charged' | 'failed'

/** Auto-topup settings as the API shows them. */
export function autoTopupView(row: AutoTopupRow | undefined) {
  if (!row) return { enabled: false, thresholdUsd: null, amountUsd: null, armed: false, lastChargedAt: null, lastFailure: null }
  return {
    enabled: row.enabled,
    thresholdUsd: formatUsd(BigInt(row.threshold)),
    amountUsd: formatUsd(BigInt(row.amount_cents) * PICO_PER_CENT),
    armed: row.armed,
    crossings: row.crossing,
    lastPaymentIntentId: row.last_payment_intent_id,
    lastChargedAt: row.last_charged_at ? new Date(row.last_charged_at).toISOString() : null,
    lastFailure: row.last_failure,
  }
}

/** Reads an account's settings. */
export function autoTopupOf(em: Em, account: LedgerAccountRef): Promise<AutoTopupRow | undefined> {
  return one<AutoTopupRow>(em, 'select * from billing_auto_topup where account_key = ?', [accountKey(account)])
}

/** Saves an account's settings; re-arms it (a new configuration starts a fresh crossing). */
export async function saveAutoTopup(em: Em, account: LedgerAccountRef, s: { enabled: boolean; threshold: bigint; amountCents: number }): Promise<AutoTopupRow> {
  const [row] = await rows<AutoTopupRow>(
    em,
    `insert into billing_auto_topup (account_key, organization_id, user_id, enabled, threshold, amount_cents, armed)
     values (?, ?, ?, ?, ?, ?, true)
     on conflict (account_key) do update set enabled = excluded.enabled, threshold = excluded.threshold, amount_cents = excluded.amount_cents, armed = true, last_failure = null, updated_at = now()
     returning *`,
    [accountKey(account), account.organizationId, account.userId ?? null, s.enabled, s.threshold.toString(), s.amountCents],
  )
  return row
}

/**
 * Checks one account and charges it at most once per threshold crossing. Crossing below the
 * threshold while armed disarms the account in one conditional UPDATE (so two instances, or two
 * checks, cannot both charge), then charges the saved payment method off-session with a Stripe
 * idempotency key naming the crossing. The account re-arms only when its balance is back at or
 * above the threshold; a declined charge stays disarmed (recorded as a failure) until then or
 * until the settings are saved again, so a failing card is never charged in a loop.
 */
export async function checkAutoTopup(ctx: CommerceContext, account: LedgerAccountRef): Promise<AutoTopupOutcome> {
  const outcome = await check(ctx, account)
  ctx.metrics.autoTopup.inc({ outcome })
  return outcome
}

async function check(ctx: CommerceContext, account: LedgerAccountRef): Promise<AutoTopupOutcome> {
  const em = reader(ctx.host.db)
  const settings = await autoTopupOf(em, account)
  if (!settings?.enabled) return 'disabled'
  const threshold = BigInt(settings.threshold)
  const balance = await ctx.ledger.balance(account)
  if (balance >= threshold) {
    if (!settings.armed) await rows(em, 'update billing_auto_topup set armed = true, updated_at = now() where account_key = ? and not armed returning account_key', [settings.account_key])
    return 'above-threshold'
  }
  const claimed = await one<AutoTopupRow>(
    em,
    'update billing_auto_topup set armed = false, crossing = crossing + 1, updated_at = now() where account_key = ? and armed and enabled returning *',
    [settings.account_key],
  )
  if (!claimed) return 'already-charged-this-crossing'
  await ensureAccountCommitted(ctx.host, account)
  return charge(ctx, account, claimed)
}

async function charge(ctx: CommerceContext, account: LedgerAccountRef, s: AutoTopupRow): Promise<AutoTopupOutcome> {
  const currency = ctx.config.stripe?.currency ?? 'usd'
  const paymentId = await inTransaction(ctx.host.db, (em) =>
    insertPayment(em, {
      organizationId: account.organizationId,
      userId: account.userId,
      kind: ctx.config.devMode && !ctx.stripe ? 'development' : 'auto_topup',
      amountCents: s.amount_cents,
      credits: BigInt(s.amount_cents) * PICO_PER_CENT,
      bonusCredits: 0n,
      currency,
    }),
  )
  const fail = async (code: string, message: string, paymentIntentId?: string, paymentMethodId?: string) => {
    await withRetry(ctx.host.db, async (em) => {
      if (paymentIntentId) await rows(em, 'update billing_payment set stripe_payment_intent_id = ? where id = ? and stripe_payment_intent_id is null returning id', [paymentIntentId, paymentId])
      const payment = await lockPayment(em, paymentId)
      // The same key as the webhook's payment_intent.payment_failed, so the failure is recorded once.
      const dedupeKey = paymentIntentId ? failureKey(paymentIntentId, paymentMethodId) : `auto-topup:${paymentId}`
      await recordFailure(ctx, em, { organizationId: account.organizationId, userId: account.userId, payment, kind: 'auto_topup', paymentIntentId, dedupeKey, code, message })
      await rows(em, 'update billing_auto_topup set last_failure = ?, updated_at = now() where account_key = ? returning account_key', [`${code}: ${message}`.slice(0, 500), s.account_key])
    })
    return 'failed' as const
  }
  if (!ctx.stripe) {
    if (!ctx.config.devMode) return fail('not_configured', 'Payments are not configured')
    await withRetry(ctx.host.db, async (em) => {
      const p = await lockPayment(em, paymentId)
      if (p) await creditPayment(ctx, em, p, { actor: { type: 'system', id: 'auto-topup' } })
    })
    return 'charged'
  }
  const customer = await customerOf(reader(ctx.host.db), account)
  if (!customer?.default_payment_method) return fail('no_payment_method', 'No saved payment method: buy credits once through Checkout or add a card in the portal')
  let intent: Stripe.PaymentIntent
  try {
    intent = await ctx.stripe.paymentIntents.create(
      {
        amount: s.amount_cents,
        currency,
        customer: customer.stripe_customer_id,
        payment_method: customer.default_payment_method,
        off_session: true,
        confirm: true,
        description: `Auto-topup of $${formatUsd(BigInt(s.amount_cents) * PICO_PER_CENT)} (balance below $${formatUsd(BigInt(s.threshold))})`,
        metadata: {
          tollgate_payment_id: paymentId,
          tollgate_kind: 'auto_topup',
          tollgate_organization_id: account.organizationId,
          ...(account.userId ? { tollgate_user_id: account.userId } : {}),
          tollgate_crossing: String(s.crossing),
        },
      },
      { idempotencyKey: `tollgate-auto-topup:${s.account_key}:${s.crossing}` },
    )
  } catch (err) {
    const e = err as { code?: string; decline_code?: string; message?: string; raw?: { payment_intent?: Stripe.PaymentIntent } }
    const pi = e.raw?.payment_intent
    const pm = pi?.last_payment_error?.payment_method?.id ?? customer.default_payment_method
    return fail(e.decline_code ?? e.code ?? 'stripe_error', e.message ?? String(err), pi?.id, pm)
  }
  await withRetry(ctx.host.db, async (em) => {
    await rows(em, 'update billing_payment set stripe_payment_intent_id = ?, updated_at = now() where id = ? and stripe_payment_intent_id is null returning id', [intent.id, paymentId])
    await rows(em, 'update billing_auto_topup set last_payment_intent_id = ?, last_charged_at = now(), last_failure = null where account_key = ? returning account_key', [intent.id, s.account_key])
    const p = await lockPayment(em, paymentId)
    if (p && intent.status === 'succeeded') await creditPayment(ctx, em, p, { paymentIntentId: intent.id, actor: { type: 'system', id: 'auto-topup' } })
  })
  return intent.status === 'succeeded' ? 'charged' : 'failed'
}

/** The dedupe key of a PaymentIntent's failure with one payment method (one record per attempt). */
export function failureKey(paymentIntentId: string, paymentMethodId?: string | null): string {
  return `pi-failure:${paymentIntentId}:${paymentMethodId ?? ''}`
}

/** Reloads which accounts have auto-topup enabled (settings saved on another instance show up here). */
export async function loadAutoTopupAccounts(ctx: CommerceContext): Promise<string[]> {
  const list = await rows<{ account_key: string }>(reader(ctx.host.db), 'select account_key from billing_auto_topup where enabled order by account_key limit 100000')
  ctx.autoTopupAccounts.clear()
  for (const r of list) ctx.autoTopupAccounts.add(r.account_key)
  return list.map((r) => r.account_key)
}

/** Checks every enabled account (the worker's sweep, a safety net behind the checks after debits). */
export async function sweepAutoTopups(ctx: CommerceContext): Promise<number> {
  const list = (await loadAutoTopupAccounts(ctx)).map((account_key) => ({ account_key }))
  let charged = 0
  for (const r of list) if ((await checkAutoTopup(ctx, accountFromKey(r.account_key))) === 'charged') charged++
  return charged
}
