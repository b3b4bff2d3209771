import { Migration } from '@mikro-orm/migrations'

/** billing:0101_payments — Stripe customers, payments, failures, refunds, processed webhook events, auto-topup. */
export class CommercePayments extends Migration {
  override async up(): Promise<void> {
    // One Stripe customer per credit account: the organization's (user_id null) or a member's personal one.
    this.addSql(`create table billing_customer (
      account_key text primary key,
      organization_id uuid not null,
      user_id uuid,
      stripe_customer_id text not null unique,
      default_payment_method text,
      email text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    // Webhook idempotency: an event id is inserted in the same transaction as its ledger entries.
    this.addSql(`create table billing_stripe_event (
      event_id text primary key,
      type text not null,
      stripe_created timestamptz not null,
      received_at timestamptz not null default now()
    )`)
    this.addSql(`create table billing_payment (
      id uuid primary key,
      organization_id uuid not null,
      user_id uuid,
      kind text not null check (kind in ('credit_package','auto_topup','development')),
      package_id text,
      status text not null check (status in ('pending','succeeded','failed','expired')),
      amount_cents integer not null check (amount_cents >= 0),
      currency text not null default 'usd',
      credits bigint not null check (credits >= 0),
      bonus_credits bigint not null default 0 check (bonus_credits >= 0),
      discount_code text,
      discount_cents integer not null default 0,
      stripe_checkout_session_id text unique,
      stripe_payment_intent_id text unique,
      refunded_cents integer not null default 0,
      failure_code text,
      failure_message text,
      created_by uuid,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      succeeded_at timestamptz
    )`)
    this.addSql('create index billing_payment_org_idx on billing_payment (organization_id, created_at desc)')
    this.addSql(`create table billing_payment_failure (
      id uuid primary key,
      organization_id uuid not null,
      user_id uuid,
      payment_id uuid,
      kind text not null,
      stripe_payment_intent_id text,
      dedupe_key text not null unique,
      code text,
      message text,
      created_at timestamptz not null default now()
    )`)
    this.addSql('create index billing_payment_failure_org_idx on billing_payment_failure (organization_id, created_at desc)')
    this.addSql(`create table billing_refund (
      stripe_refund_id text primary key,
      payment_id uuid not null references billing_payment(id),
      organization_id uuid not null,
      amount_cents integer not null check (amount_cents > 0),
      credits bigint not null,
      ledger_entry_id text,
      reversed_at timestamptz,
      created_at timestamptz not null default now()
    )`)
    // armed = the next crossing below the threshold may charge once; disarmed until the balance is back above it.
    this.addSql(`create table billing_auto_topup (
      account_key text primary key,
      organization_id uuid not null,
      user_id uuid,
      enabled boolean not null default false,
      threshold bigint not null check (threshold >= 0),
      amount_cents integer not null check (amount_cents > 0),
      armed boolean not null default true,
      crossing integer not null default 0,
      last_payment_intent_id text,
      last_charged_at timestamptz,
      last_failure text,
      updated_at timestamptz not null default now()
    )`)
  }
}
