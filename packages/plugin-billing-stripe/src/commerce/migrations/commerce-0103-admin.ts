import { Migration } from '@mikro-orm/migrations'

/** billing:0103_discounts_referrals — discount codes with tracked redemptions, referral codes and rewards. */
export class CommerceAdmin extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table billing_discount_code (
      code text primary key,
      kind text not null check (kind in ('percent','amount')),
      percent_off integer check (percent_off between 1 and 100),
      amount_off_cents integer check (amount_off_cents > 0),
      max_redemptions integer check (max_redemptions > 0),
      redeemed_count integer not null default 0,
      expires_at timestamptz,
      active boolean not null default true,
      created_by uuid,
      created_at timestamptz not null default now(),
      check ((kind = 'percent') = (percent_off is not null)),
      check ((kind = 'amount') = (amount_off_cents is not null)),
      check (max_redemptions is null or redeemed_count <= max_redemptions),
      check (redeemed_count >= 0)
    )`)
    // A code is held while its checkout is open (so a limit cannot be oversold), redeemed on payment, released on expiry.
    this.addSql(`create table billing_discount_redemption (
      id uuid primary key,
      code text not null references billing_discount_code(code),
      organization_id uuid not null,
      payment_id uuid not null unique,
      status text not null check (status in ('held','redeemed','released')),
      discount_cents integer not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql("create unique index billing_discount_redemption_once on billing_discount_redemption (code, organization_id) where status <> 'released'")
    this.addSql(`create table billing_referral_code (
      organization_id uuid primary key,
      code text not null unique,
      created_at timestamptz not null default now()
    )`)
    this.addSql(`create table billing_referral (
      referred_organization_id uuid primary key,
      referrer_organization_id uuid not null,
      code text not null,
      created_at timestamptz not null default now(),
      rewarded_entry_id text,
      rewarded_at timestamptz,
      check (referred_organization_id <> referrer_organization_id)
    )`)
    this.addSql('create index billing_referral_referrer_idx on billing_referral (referrer_organization_id)')
  }
}
