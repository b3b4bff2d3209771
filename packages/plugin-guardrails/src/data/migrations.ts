import { Migration } from '@mikro-orm/migrations'

/** guardrails:0001_init — policies per organization/project and the violation log (metadata only). */
export class GuardrailsInit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table guardrails_policy (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      project_id uuid references core_project(id) on delete cascade,
      policy jsonb not null,
      version integer not null default 1,
      updated_at timestamptz not null default now()
    )`)
    this.addSql(`create unique index guardrails_policy_scope_uq on guardrails_policy (organization_id, coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid))`)
    this.addSql(`create table guardrails_violation (
      id uuid primary key,
      request_id text not null,
      organization_id uuid not null,
      project_id uuid,
      api_key_id uuid,
      rule text not null,
      category text not null,
      action text not null check (action in ('block','warn','redact')),
      direction text not null check (direction in ('input','output')),
      count integer not null,
      created_at timestamptz not null default now()
    )`)
    this.addSql('create index guardrails_violation_org_idx on guardrails_violation (organization_id, created_at desc)')
    this.addSql('create index guardrails_violation_request_idx on guardrails_violation (request_id)')
  }
}

/** The plugin's migrations, in order; names never change once released. */
export const GUARDRAILS_MIGRATIONS = [{ name: 'guardrails:0001_init', class: GuardrailsInit }]
