import { Migration } from '@mikro-orm/migrations'
import type { PluginMigration } from '@tollgate/core'

/**
 * sso:0001_init — per-organization connections and policy, sign-in state, the SAML replay
 * cache, sessions, local (break-glass) credentials, IdP identities and the SCIM store. Every
 * table that several instances share (state, replay cache, sessions) lives here, not in memory.
 */
class SsoInit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table sso_connection (
      organization_id uuid primary key references core_organization(id) on delete cascade,
      protocol text not null check (protocol in ('oidc', 'saml')),
      enabled boolean not null default true,
      settings jsonb not null,
      client_secret_enc text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql(`create table sso_policy (
      organization_id uuid primary key references core_organization(id) on delete cascade,
      enforced boolean not null default false,
      break_glass_user_id uuid references core_user(id),
      default_role text check (default_role in ('admin', 'member', 'developer', 'viewer')),
      group_roles jsonb not null default '[]',
      updated_at timestamptz not null default now()
    )`)
    this.addSql(`create table sso_login_state (
      state text primary key,
      organization_id uuid not null,
      protocol text not null,
      code_verifier text,
      nonce text,
      saml_request_id text,
      return_to text not null,
      expires_at timestamptz not null
    )`)
    this.addSql('create unique index sso_login_state_saml_uq on sso_login_state (saml_request_id) where saml_request_id is not null')
    this.addSql(`create table sso_saml_assertion (
      organization_id uuid not null,
      assertion_id text not null,
      expires_at timestamptz not null,
      primary key (organization_id, assertion_id)
    )`)
    this.addSql(`create table sso_session (
      id uuid primary key,
      token_hash text not null unique,
      user_id uuid not null references core_user(id) on delete cascade,
      organization_id uuid not null references core_organization(id) on delete cascade,
      method text not null,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null,
      ip text,
      user_agent text
    )`)
    this.addSql('create index sso_session_user_idx on sso_session (user_id, organization_id)')
    this.addSql(`create table sso_local_credential (
      user_id uuid primary key references core_user(id) on delete cascade,
      password_hash text not null,
      updated_at timestamptz not null default now()
    )`)
    this.addSql(`create table sso_password_failure (
      email text not null,
      failed_at timestamptz not null default now()
    )`)
    this.addSql('create index sso_password_failure_idx on sso_password_failure (email, failed_at)')
    this.addSql(`create table sso_identity (
      organization_id uuid not null references core_organization(id) on delete cascade,
      subject text not null,
      user_id uuid not null references core_user(id) on delete cascade,
      last_groups jsonb not null default '[]',
      last_login_at timestamptz not null default now(),
      primary key (organization_id, subject)
    )`)
    this.addSql('create index sso_identity_user_idx on sso_identity (organization_id, user_id)')
    this.addSql(`create table sso_scim_token (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      token_hash text not null unique,
      prefix text not null,
      created_at timestamptz not null default now(),
      revoked_at timestamptz
    )`)
    this.addSql(`create table sso_scim_user (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      user_id uuid not null references core_user(id),
      user_name text not null,
      external_id text,
      display_name text,
      given_name text,
      family_name text,
      emails jsonb not null default '[]',
      active boolean not null default true,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql('create unique index sso_scim_user_name_uq on sso_scim_user (organization_id, lower(user_name))')
    this.addSql('create unique index sso_scim_user_user_uq on sso_scim_user (organization_id, user_id)')
    this.addSql('create index sso_scim_user_page_idx on sso_scim_user (organization_id, created_at, id)')
    this.addSql(`create table sso_scim_group (
      id uuid primary key,
      organization_id uuid not null references core_organization(id) on delete cascade,
      display_name text not null,
      external_id text,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql('create unique index sso_scim_group_name_uq on sso_scim_group (organization_id, lower(display_name))')
    this.addSql(`create table sso_scim_group_member (
      group_id uuid not null references sso_scim_group(id) on delete cascade,
      scim_user_id uuid not null references sso_scim_user(id) on delete cascade,
      primary key (group_id, scim_user_id)
    )`)
    this.addSql('create index sso_scim_group_member_user_idx on sso_scim_group_member (scim_user_id)')
  }
}

/** The plugin's migrations, in order. */
export const SSO_MIGRATIONS: PluginMigration[] = [{ name: 'sso:0001_init', class: SsoInit }]
