import type { Database, Role } from '@tollgate/core'
import type { SecretBox } from '../crypto/secret-box.js'
import { type Em, jsonOf, query, rows, toDate } from '../db.js'
import type { Connection, GroupRole, OidcSettings, SamlSettings, SsoPolicy } from './types.js'

interface ConnectionRow {
  organization_id: string
  protocol: 'oidc' | 'saml'
  enabled: boolean
  settings: unknown
  client_secret_enc: string | null
  updated_at: Date | string
}

interface PolicyRow {
  organization_id: string
  enforced: boolean
  break_glass_user_id: string | null
  default_role: Exclude<Role, 'owner'> | null
  group_roles: unknown
}

function aad(organizationId: string): string {
  return `tollgate:sso-client-secret:${organizationId}`
}

/** Reads and writes organizations' connections (secrets sealed) and sign-in policies. */
export class ConnectionStore {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
  ) {}

  /** An organization's connection with its secret decrypted, or undefined. */
  async get(organizationId: string): Promise<Connection | undefined> {
    const [row] = await query<ConnectionRow>(this.db, 'select organization_id, protocol, enabled, settings, client_secret_enc, updated_at from sso_connection where organization_id = ?', [
      organizationId,
    ])
    if (!row) return undefined
    const base = { organizationId: row.organization_id, enabled: row.enabled, updatedAt: toDate(row.updated_at) }
    if (row.protocol === 'oidc') {
      return { ...base, protocol: 'oidc', settings: jsonOf<OidcSettings>(row.settings, {} as OidcSettings), clientSecret: row.client_secret_enc ? this.box.open(row.client_secret_enc, aad(organizationId)) : undefined }
    }
    return { ...base, protocol: 'saml', settings: jsonOf<SamlSettings>(row.settings, {} as SamlSettings) }
  }

  /**
   * Creates or replaces a connection. `clientSecret`: a string sets it, null clears it, undefined
   * keeps the stored one (so an edit need not resend it). Returns whether it was created.
   */
  async put(em: Em, input: { organizationId: string; protocol: 'oidc' | 'saml'; enabled: boolean; settings: OidcSettings | SamlSettings; clientSecret?: string | null }): Promise<boolean> {
    const [existing] = await rows<{ client_secret_enc: string | null; protocol: string }>(em, 'select client_secret_enc, protocol from sso_connection where organization_id = ? for update', [input.organizationId])
    let secret = existing && existing.protocol === input.protocol ? existing.client_secret_enc : null
    if (input.clientSecret === null || input.protocol === 'saml') secret = null
    else if (typeof input.clientSecret === 'string') secret = this.box.seal(input.clientSecret, aad(input.organizationId))
    await rows(
      em,
      `insert into sso_connection (organization_id, protocol, enabled, settings, client_secret_enc) values (?, ?, ?, ?::jsonb, ?)
       on conflict (organization_id) do update set protocol = excluded.protocol, enabled = excluded.enabled, settings = excluded.settings,
         client_secret_enc = excluded.client_secret_enc, updated_at = now()
       returning organization_id`,
      [input.organizationId, input.protocol, input.enabled, JSON.stringify(input.settings), secret],
    )
    return !existing
  }

  /** Deletes a connection; true when there was one. */
  async delete(em: Em, organizationId: string): Promise<boolean> {
    const deleted = await rows(em, 'delete from sso_connection where organization_id = ? returning organization_id', [organizationId])
    return deleted.length > 0
  }

  /** An organization's policy (defaults when none is stored: not enforced, default role member, no rules). */
  async policy(organizationId: string, em?: Em): Promise<SsoPolicy> {
    const sql = 'select organization_id, enforced, break_glass_user_id, default_role, group_roles from sso_policy where organization_id = ?'
    const [row] = em ? await rows<PolicyRow>(em, sql, [organizationId]) : await query<PolicyRow>(this.db, sql, [organizationId])
    if (!row) return { organizationId, enforced: false, breakGlassUserId: null, defaultRole: 'member', groupRoles: [] }
    return {
      organizationId,
      enforced: row.enforced,
      breakGlassUserId: row.break_glass_user_id,
      defaultRole: row.default_role,
      groupRoles: jsonOf<GroupRole[]>(row.group_roles, []),
    }
  }

  /** Stores an organization's policy. */
  async putPolicy(em: Em, policy: SsoPolicy): Promise<void> {
    await rows(
      em,
      `insert into sso_policy (organization_id, enforced, break_glass_user_id, default_role, group_roles) values (?, ?, ?, ?, ?::jsonb)
       on conflict (organization_id) do update set enforced = excluded.enforced, break_glass_user_id = excluded.break_glass_user_id,
         default_role = excluded.default_role, group_roles = excluded.group_roles, updated_at = now()
       returning organization_id`,
      [policy.organizationId, policy.enforced, policy.breakGlassUserId, policy.defaultRole, JSON.stringify(policy.groupRoles)],
    )
  }
}
