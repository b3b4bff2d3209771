import { Migration } from '@mikro-orm/migrations'

/** billing:0102_plans — subscriptions, admin-assigned plans, plan requests, billing contacts. */
export class CommercePlans extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table billing_subscription (
      id text primary key,
      account_key text not null,
      organization_id uuid not null,
      user_id uuid,
      kind text not null check (kind in ('organization','developer')),
      plan text not null,
      billing_interval text not null check (billing_interval in ('month','year')),
      status text not null,
      current_period_start timestamptz,
      current_period_end timestamptz,
      cancel_at_period_end boolean not null default false,
      source text not null default 'stripe',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql('create index billing_subscription_account_idx on billing_subscription (account_key, status)')
    this.addSql(`create table billing_org_plan (
      organization_id uuid primary key,
      plan text not null,
      net_days integer,
      assigned_by uuid,
      updated_at timestamptz not null default now()
    )`)
    this.addSql(`create table billing_plan_request (
      id uuid primary key,
      organization_id uuid not null,
      plan text not null,
      billing_interval text,
      note text,
      requested_by uuid,
      status text not null default 'open' check (status in ('open','approved','rejected')),
      created_at timestamptz not null default now()
    )`)
    this.addSql(`create table billing_contact (
      organization_id uuid not null,
      user_id uuid not null,
      added_by uuid,
      created_at timestamptz not null default now(),
      primary key (organization_id, user_id)
    )`)
  }
}
