import { Migration } from '@mikro-orm/migrations'

/**
 * core:0002_routing — provider settings edited through the management API, deployments of
 * models, routing policies (global, organization, project) and the shared rate-limit counters.
 */
export class CoreRouting extends Migration {
  override async up(): Promise<void> {
    // A row overrides (or, with a kind, defines) a provider of the gateway config; null = inherit.
    this.addSql(`create table core_provider (
      id text primary key,
      kind text check (kind in ('openai','anthropic','mock')),
      base_url text,
      headers jsonb,
      timeouts jsonb,
      enabled boolean,
      api_key_ciphertext text,
      api_key_hint text,
      attributes jsonb,
      region text,
      rpm integer,
      tpm bigint,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql(`create table core_deployment (
      id text primary key,
      model text not null references core_model(name) on delete cascade,
      provider text not null,
      upstream_model text not null,
      base_url text,
      region text,
      weight integer not null default 1 check (weight >= 0),
      priority integer not null default 0,
      attributes jsonb not null default '[]',
      rpm integer,
      tpm bigint,
      attempt_timeout_ms integer,
      enabled boolean not null default true,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql('create index core_deployment_model_idx on core_deployment (model)')
    this.addSql(`create table core_routing_policy (
      scope text not null check (scope in ('global','organization','project')),
      scope_id text not null,
      organization_id uuid references core_organization(id) on delete cascade,
      policy jsonb not null,
      updated_at timestamptz not null default now(),
      primary key (scope, scope_id)
    )`)
    // Fixed one-minute windows; instances lease slices of a window's allowance with one upsert.
    this.addSql(`create table core_rate_limit_counter (
      key text not null,
      window_start bigint not null,
      used bigint not null,
      last_grant bigint not null,
      primary key (key, window_start)
    )`)
  }
}
