import { Migration } from '@mikro-orm/migrations'

/**
 * billing:0002_budgets — organization billing settings, budgets, per-period budget counters and
 * the leases through which instances hold slices of balances and budgets.
 *
 * A pool (an account's balance, or one budget's allowance for one period and subject) has one
 * row holding `leased`, the sum of its lease rows; a lease is granted by a conditional update of
 * that row (`where available >= need`), so several instances can never together lease more than
 * the pool holds.
 */
export class BillingBudgetsMigration extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table billing_org_settings (
      organization_id uuid primary key,
      timezone text,
      require_prepaid_balance boolean,
      low_balance_threshold numeric(38,0) check (low_balance_threshold >= 0),
      budget_alert_thresholds jsonb,
      alert_emails jsonb not null default '[]',
      slack_webhook_url text,
      discord_webhook_url text,
      updated_at timestamptz not null default now()
    )`)
    this.addSql(`create table billing_budget (
      id uuid primary key,
      organization_id uuid not null,
      scope text not null check (scope in ('organization','member','default_member','project','api_key')),
      subject_id text,
      applies_to_roles jsonb,
      period text not null check (period in ('day','week','month')),
      limit_amount numeric(38,0) not null check (limit_amount > 0),
      alert_thresholds jsonb,
      name text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz,
      check ((scope in ('organization','default_member')) = (subject_id is null))
    )`)
    this.addSql(`create unique index billing_budget_scope_uq on billing_budget (organization_id, scope, coalesce(subject_id, ''), period) where deleted_at is null`)
    this.addSql(`create table billing_budget_counter (
      pool_key text primary key,
      budget_id uuid not null references billing_budget(id),
      organization_id uuid not null,
      subject_id text,
      period_start timestamptz not null,
      period_end timestamptz not null,
      spent numeric(38,0) not null default 0,
      leased numeric(38,0) not null default 0 check (leased >= 0),
      updated_at timestamptz not null default now()
    )`)
    this.addSql('create index billing_budget_counter_budget_idx on billing_budget_counter (budget_id, period_start)')
    this.addSql(`create table billing_lease (
      pool_key text not null,
      instance_id text not null,
      amount numeric(38,0) not null check (amount >= 0),
      expires_at timestamptz not null,
      updated_at timestamptz not null default now(),
      primary key (pool_key, instance_id)
    )`)
    this.addSql('create index billing_lease_expiry_idx on billing_lease (expires_at)')
  }
}
