import { Migration } from '@mikro-orm/migrations'

/** billing:0104_invoices — monthly usage rollup (from core usage events), invoices and their lines. */
export class CommerceInvoices extends Migration {
  override async up(): Promise<void> {
    // Empty strings stand for "none" so the unique key covers requests without a project, member or model.
    this.addSql(`create table billing_usage_rollup (
      organization_id uuid not null,
      month date not null,
      project_id text not null default '',
      user_id text not null default '',
      model text not null default '',
      requests bigint not null default 0,
      input_tokens bigint not null default 0,
      output_tokens bigint not null default 0,
      cached_read_tokens bigint not null default 0,
      cache_write_tokens bigint not null default 0,
      cost bigint not null default 0,
      market_cost bigint not null default 0,
      primary key (organization_id, month, project_id, user_id, model)
    )`)
    this.addSql(`create table billing_invoice (
      id uuid primary key,
      number text not null unique,
      organization_id uuid not null,
      period_start date not null,
      period_end date not null,
      status text not null check (status in ('pending','paid','void')),
      currency text not null default 'usd',
      total bigint not null,
      net_days integer not null,
      issued_at timestamptz not null default now(),
      due_at timestamptz not null,
      paid_at timestamptz,
      stripe_invoice_id text unique,
      unique (organization_id, period_start)
    )`)
    this.addSql(`create table billing_invoice_line (
      invoice_id uuid not null references billing_invoice(id) on delete cascade,
      position integer not null,
      kind text not null check (kind in ('model','meter','credits','subscription','adjustment')),
      description text not null,
      quantity text not null,
      unit text not null,
      amount bigint not null,
      primary key (invoice_id, position)
    )`)
    this.addSql('create sequence billing_invoice_number_seq')
  }
}
