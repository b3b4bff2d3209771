import { Migration } from '@mikro-orm/migrations'

/**
 * audit:0001_init — the hash-chained trail, its chain heads and signed checkpoints (append-only,
 * enforced by triggers), per-organization retention policies, the request log (metadata) and the
 * verbose request bodies (a separate table, the only one the retention worker changes). Times that
 * keyset cursors compare are stored at millisecond precision, the precision of a JS Date, so a
 * cursor read back from JSON names exactly the row it stopped at.
 */
export class AuditInit extends Migration {
  override async up(): Promise<void> {
    // One function raises for every forbidden change, so the error names the table and operation.
    this.addSql(`create function audit_forbid_change() returns trigger language plpgsql as $$
      begin
        raise exception 'audit: % on % is not allowed (the audit trail is append-only)', tg_op, tg_table_name
          using errcode = '42501';
      end
    $$`)
    this.addSql(`create table audit_entry (
      id uuid primary key,
      organization_id uuid not null,
      seq bigint not null check (seq >= 1),
      occurred_at timestamptz(3) not null,
      event text not null,
      actor_type text not null,
      actor_id text not null,
      action text not null,
      resource_type text not null,
      resource_id text,
      diff jsonb,
      details jsonb,
      ip text,
      user_agent text,
      prev_hash text not null,
      hash text not null,
      constraint audit_entry_seq_uq unique (organization_id, seq),
      constraint audit_entry_prev_uq unique (organization_id, prev_hash)
    )`)
    this.addSql('create index audit_entry_time_idx on audit_entry (organization_id, occurred_at)')
    this.addSql('create index audit_entry_action_idx on audit_entry (organization_id, action, seq)')
    this.addSql('create index audit_entry_resource_idx on audit_entry (organization_id, resource_type, resource_id, seq)')
    this.addSql('create index audit_entry_actor_idx on audit_entry (organization_id, actor_id, seq)')
    this.addSql('create trigger audit_entry_append_only before update or delete on audit_entry for each row execute function audit_forbid_change()')
    this.addSql('create trigger audit_entry_no_truncate before truncate on audit_entry for each statement execute function audit_forbid_change()')

    // The head of each organization's chain: the row appends lock (FOR UPDATE) to serialise.
    this.addSql(`create table audit_chain_head (
      organization_id uuid primary key,
      seq bigint not null,
      hash text not null,
      updated_at timestamptz not null default now()
    )`)

    this.addSql(`create table audit_checkpoint (
      id uuid primary key,
      organization_id uuid not null,
      seq bigint not null,
      hash text not null,
      signed_at timestamptz not null,
      key_id text not null,
      signature text not null,
      constraint audit_checkpoint_seq_uq unique (organization_id, seq)
    )`)
    this.addSql('create trigger audit_checkpoint_append_only before update or delete on audit_checkpoint for each row execute function audit_forbid_change()')
    this.addSql('create trigger audit_checkpoint_no_truncate before truncate on audit_checkpoint for each statement execute function audit_forbid_change()')

    this.addSql(`create table audit_retention_policy (
      organization_id uuid primary key,
      mode text not null check (mode in ('retain', 'none')),
      window_days integer check (window_days between 1 and 36500),
      updated_at timestamptz not null default now()
    )`)

    // The request log: one row per proxied request, read model of core's usage events.
    this.addSql(`create table audit_request_log (
      id bigint primary key,
      request_id text not null unique,
      occurred_at timestamptz(3) not null,
      organization_id uuid not null,
      project_id uuid,
      api_key_id uuid,
      api_key_name text,
      api_key_prefix text,
      user_id uuid,
      provider text,
      model text,
      upstream_model text,
      input_tokens integer not null,
      output_tokens integer not null,
      cached_read_tokens integer not null,
      cache_write_tokens integer not null,
      cost bigint not null,
      market_cost bigint not null,
      latency_ms integer not null,
      ttft_ms integer,
      status integer not null,
      error_code text,
      streaming boolean not null,
      client_ip text,
      user_agent text,
      app_name text,
      estimated boolean not null
    )`)
    this.addSql('create index audit_request_log_org_time_idx on audit_request_log (organization_id, occurred_at desc, id desc)')
    this.addSql('create index audit_request_log_time_idx on audit_request_log (occurred_at desc, id desc)')

    // Verbose data, only for organizations whose retention is 'retain'; nullified after the window.
    this.addSql(`create table audit_request_body (
      request_id text primary key,
      organization_id uuid not null,
      captured_at timestamptz not null default now(),
      request jsonb,
      response jsonb,
      error jsonb,
      stored_tokens integer not null,
      nullified_at timestamptz
    )`)
    this.addSql('create index audit_request_body_live_idx on audit_request_body (captured_at) where nullified_at is null')
  }
}
