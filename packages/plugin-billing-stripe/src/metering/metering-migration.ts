import { Migration } from '@mikro-orm/migrations'

/**
 * billing:0003_metering_alerts — generic meter events (recorded once per idempotency key) and
 * the record of fired alerts (one row per crossing, so an alert fires once across instances).
 */
export class BillingMeteringMigration extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table billing_meter_event (
      id uuid primary key,
      organization_id uuid not null,
      meter text not null,
      kind text not null check (kind in ('counter','gauge')),
      quantity_micro bigint not null check (quantity_micro >= 0),
      unit_price numeric(38,0) not null,
      cost numeric(38,0) not null,
      idempotency_key text not null,
      project_id uuid,
      user_id uuid,
      occurred_at timestamptz not null,
      local_day date not null,
      recorded_at timestamptz not null default now(),
      settled_at timestamptz,
      unique (organization_id, idempotency_key)
    )`)
    this.addSql('create index billing_meter_event_unsettled_idx on billing_meter_event (recorded_at) where settled_at is null')
    this.addSql('create index billing_meter_event_org_idx on billing_meter_event (organization_id, meter, occurred_at)')
    this.addSql(`create table billing_alert_fired (
      alert_key text primary key,
      organization_id uuid not null,
      kind text not null,
      fired_at timestamptz not null default now()
    )`)
  }
}
