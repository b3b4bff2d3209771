import { TollgateError } from '@tollgate/core'
import type Stripe from 'stripe'
import type { LedgerAccountRef } from '../ledger/ledger-types.js'
import { accountKey } from './accounts.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, one, reader, rows } from './commerce-db.js'
import { stripeFailure } from './stripe-client.js'

/** A row of billing_customer. */
export interface CustomerRow {
  account_key: string
  organization_id: string
  user_id: string | null
  stripe_customer_id: string
  default_payment_method: string | null
}

/** The Stripe client, or a 501 naming the missing config. */
export function requireStripe(ctx: CommerceContext): Stripe {
  if (!ctx.stripe) throw new TollgateError('TOLLGATE_ERR_PAYMENT_NOT_CONFIGURED', 'Payments are not configured: set `stripe` in the billing plugin config (or `devMode` for development)')
  return ctx.stripe
}

/** The stored customer of an account, if any. */
export function customerOf(em: Em, account: LedgerAccountRef): Promise<CustomerRow | undefined> {
  return one<CustomerRow>(em, 'select * from billing_customer where account_key = ?', [accountKey(account)])
}

/** The customer row of a Stripe customer id. */
export function customerByStripeId(em: Em, stripeCustomerId: string): Promise<CustomerRow | undefined> {
  return one<CustomerRow>(em, 'select * from billing_customer where stripe_customer_id = ?', [stripeCustomerId])
}

/**
 * The account's Stripe customer, created on first need. Concurrent first calls send the same
 * Stripe idempotency key, so Stripe answers both with one customer.
 */
export async function ensureCustomer(ctx: CommerceContext, account: LedgerAccountRef): Promise<CustomerRow> {
  const stripe = requireStripe(ctx)
  const em = reader(ctx.host.db)
  const known = await customerOf(em, account)
  if (known) return known
  const org = await ctx.identity.getOrganization(account.organizationId)
  const user = account.userId ? await ctx.identity.getUser(account.userId) : undefined
  const key = accountKey(account)
  let customer: Stripe.Customer
  try {
    customer = await stripe.customers.create(
      {
        name: user ? (user.name ?? user.email) : org?.name,
        ...(user ? { email: user.email } : {}),
        metadata: { tollgate_organization_id: account.organizationId, ...(account.userId ? { tollgate_user_id: account.userId } : {}) },
      },
      { idempotencyKey: `tollgate-customer:${key}` },
    )
  } catch (err) {
    throw stripeFailure(err, 'Creating the Stripe customer')
  }
  await rows(em, 'insert into billing_customer (account_key, organization_id, user_id, stripe_customer_id, email) values (?, ?, ?, ?, ?) on conflict do nothing returning account_key', [
    key,
    account.organizationId,
    account.userId ?? null,
    customer.id,
    customer.email ?? null,
  ])
  return (await customerOf(em, account)) as CustomerRow
}

/** Remembers the payment method future off-session charges (auto-topup) use. */
export async function saveDefaultPaymentMethod(em: Em, stripeCustomerId: string, paymentMethodId: string): Promise<void> {
  await rows(em, 'update billing_customer set default_payment_method = ?, updated_at = now() where stripe_customer_id = ? returning account_key', [paymentMethodId, stripeCustomerId])
}
