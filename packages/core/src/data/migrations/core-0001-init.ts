import { Migration } from '@mikro-orm/migrations'

/** core:0001_init — identity, model catalog, usage events and event cursors. */
export class CoreInit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table core_user (
      id uuid primary key,
      email text not null,
      name text,
      platform_admin boolean not null default false,
      created_at timestamptz not null default now(),
      disabled_at timestamptz
    )`)
    this.addSql('create unique index core_user_email_uq on core_user (lower(email))')
    this.addSql(`create table core_organization (
      id uuid primary key,
      name text not null,
      slug text not null unique,
      personal boolean not null default false,
      created_at timestamptz not null default now()
    )`)
    this.addSql(`create table core_membership (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      user_id uuid not null references core_user(id) on delete cascade,
      role text not null check (role in ('owner','admin','member','developer','viewer')),
      created_at timestamptz not null default now(),
      unique (organization_id, user_id)
    )`)
    this.addSql('create index core_membership_user_idx on core_membership (user_id)')
    this.addSql(`create table core_project (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      name text not null,
      created_at timestamptz not null default now(),
      deleted_at timestamptz
    )`)
    this.addSql('create unique index core_project_name_uq on core_project (organization_id, name) where deleted_at is null')
    this.addSql(`create table core_membership_project (
      membership_id uuid not null references core_membership(id) on delete cascade,
      project_id uuid not null references core_project(id) on delete cascade,
      primary key (membership_id, project_id)
    )`)
    this.addSql(`create table core_invitation (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      email text not null,
      role text not null check (role in ('owner','admin','member','developer','viewer')),
      project_ids jsonb not null default '[]',
      token_hash text not null unique,
      invited_by uuid not null references core_user(id),
      expires_at timestamptz not null,
      accepted_at timestamptz,
      accepted_by uuid references core_user(id),
      revoked_at timestamptz,
      created_at timestamptz not null default now()
    )`)
    this.addSql(`create table core_api_key (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      project_id uuid not null references core_project(id) on delete cascade,
      owner_user_id uuid not null references core_user(id),
      name text not null,
      prefix text not null unique,
      secret_hash text not null unique,
      role text not null check (role in ('owner','admin','member','developer','viewer')),
      app_name text,
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      created_at timestamptz not null default now()
    )`)
    this.addSql('create index core_api_key_org_idx on core_api_key (organization_id, created_at)')
    this.addSql(`create table core_provider_key (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      project_id uuid not null references core_project(id) on delete cascade,
      provider text not null,
      label text,
      ciphertext text not null,
      key_hint text not null,
      created_by uuid not null references core_user(id),
      created_at timestamptz not null default now()
    )`)
    this.addSql('create unique index core_provider_key_uq on core_provider_key (project_id, provider)')
    this.addSql(`create table core_model (
      name text primary key,
      provider text not null,
      upstream_model text not null,
      available boolean not null default true,
      input_price bigint not null default 0,
      output_price bigint not null default 0,
      cached_read_price bigint not null default 0,
      cache_write_price bigint not null default 0,
      market_input_price bigint not null default 0,
      market_output_price bigint not null default 0,
      market_cached_read_price bigint not null default 0,
      market_cache_write_price bigint not null default 0,
      context_window integer,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    // The primary key is the consumers' read order (inserting transaction, then sequence): one
    // index serves both identity and cursor reads, one fewer to maintain on the hot insert.
    this.addSql(`create table core_usage_event (
      id bigserial not null,
      tx_id xid8 not null default pg_current_xact_id(),
      request_id text not null,
      occurred_at timestamptz not null,
      organization_id uuid not null,
      project_id uuid,
      api_key_id uuid,
      user_id uuid,
      provider text,
      model text,
      upstream_model text,
      input_tokens integer not null default 0,
      output_tokens integer not null default 0,
      cached_read_tokens integer not null default 0,
      cache_write_tokens integer not null default 0,
      cost bigint not null default 0,
      market_cost bigint not null default 0,
      latency_ms integer not null,
      ttft_ms integer,
      status integer not null,
      error_code text,
      streaming boolean not null,
      client_ip text,
      user_agent text,
      app_name text,
      estimated boolean not null default false,
      failed_attempts jsonb,
      primary key (tx_id, id)
    )`)
    this.addSql('create unique index core_usage_event_request_uq on core_usage_event (request_id)')
    this.addSql(`create table core_event_cursor (
      consumer text primary key,
      tx_id xid8 not null default '0',
      last_id bigint not null default 0,
      updated_at timestamptz not null default now()
    )`)
  }
}
