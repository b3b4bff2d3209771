import { type Database, type IdentityService, isTollgateError, type Role, TollgateError } from '@tollgate/core'
import type { Logger } from 'pino'
import type { ConnectionStore } from '../connections/connection-store.js'
import { roleForGroups } from '../connections/role-mapping.js'
import type { SsoPolicy } from '../connections/types.js'
import { jsonOf, query } from '../db.js'

/** What an IdP said about a user, from a verified ID token / userinfo or a signed assertion only. */
export interface AssertedIdentity {
  /** Stable subject, qualified by its issuer (`oidc:<iss> <sub>`, `saml:<entity id> <NameID>`), so a new IdP never inherits old links. */
  subject: string
  email: string
  name?: string
  groups: string[]
}

/**
 * Just-in-time provisioning and role sync. A user is found by their IdP subject in the
 * organization, else by email, else created. Their role in the organization follows the policy's
 * group rules (IdP groups of the last sign-in plus SCIM groups); the break-glass owner is never
 * touched, and the last owner is never demoted (core refuses; the sync logs and keeps them).
 */
export class Provisioner {
  constructor(
    private readonly db: Database,
    private readonly identity: IdentityService,
    private readonly connections: ConnectionStore,
    private readonly log: Logger,
  ) {}

  /** The user behind an IdP identity in an organization, created on first sign-in. */
  async userFor(organizationId: string, asserted: AssertedIdentity): Promise<{ userId: string; created: boolean }> {
    const [linked] = await query<{ user_id: string }>(this.db, 'select user_id from sso_identity where organization_id = ? and subject = ?', [organizationId, asserted.subject])
    if (linked) return { userId: linked.user_id, created: false }
    const existing = await this.identity.findUserByEmail(asserted.email)
    if (existing) return { userId: existing.id, created: false }
    try {
      const created = await this.identity.createUser({ email: asserted.email, name: asserted.name })
      return { userId: created.id, created: true }
    } catch (err) {
      // Two first sign-ins at once: the other one created the user.
      const again = await this.identity.findUserByEmail(asserted.email)
      if (again) return { userId: again.id, created: false }
      throw err
    }
  }

  /** Records the identity link and the groups the IdP asserted at this sign-in. */
  async link(organizationId: string, subject: string, userId: string, groups: string[]): Promise<void> {
    await query(
      this.db,
      `insert into sso_identity (organization_id, subject, user_id, last_groups) values (?, ?, ?, ?::jsonb)
       on conflict (organization_id, subject) do update set last_groups = excluded.last_groups, last_login_at = now() returning subject`,
      [organizationId, subject, userId, JSON.stringify(groups)],
    )
  }

  /** The SCIM view of a user in an organization: whether they are active and their SCIM groups. */
  async scimState(organizationId: string, userId: string): Promise<{ active: boolean; groups: string[] } | undefined> {
    const [u] = await query<{ id: string; active: boolean }>(this.db, 'select id, active from sso_scim_user where organization_id = ? and user_id = ?', [organizationId, userId])
    if (!u) return undefined
    const groups = await query<{ display_name: string }>(this.db, 'select g.display_name from sso_scim_group g join sso_scim_group_member m on m.group_id = g.id where m.scim_user_id = ?', [u.id])
    return { active: u.active, groups: groups.map((g) => g.display_name) }
  }

  /** Every group a user is in for role purposes: SCIM groups plus the IdP groups of their last sign-in. */
  async groupsOf(organizationId: string, userId: string, asserted?: string[]): Promise<string[]> {
    const scim = await this.scimState(organizationId, userId)
    let idp = asserted
    if (!idp) {
      const links = await query<{ last_groups: unknown }>(this.db, 'select last_groups from sso_identity where organization_id = ? and user_id = ?', [organizationId, userId])
      idp = links.flatMap((l) => jsonOf<string[]>(l.last_groups, []))
    }
    return [...new Set([...(scim?.groups ?? []), ...idp])]
  }

  /**
   * Makes a user's membership match their groups: adds them (JIT), changes their role, or — when
   * no rule or default gives a role — removes them. Returns the resulting role (undefined: not a member).
   */
  async syncMembership(organizationId: string, userId: string, groups: string[], policy?: SsoPolicy): Promise<Role | undefined> {
    const p = policy ?? (await this.connections.policy(organizationId))
    const current = await this.identity.membership(organizationId, userId)
    if (p.breakGlassUserId === userId) return current?.role
    const role = roleForGroups(p, groups)
    try {
      if (!current && role) await this.identity.addMember({ organizationId, userId, role })
      else if (current && role && current.role !== role) await this.identity.changeMemberRole(organizationId, userId, { role })
      else if (current && !role) await this.identity.removeMember(organizationId, userId)
    } catch (err) {
      if (isTollgateError(err) && err.code === 'TOLLGATE_ERR_REQUEST_CONFLICT') {
        this.log.warn({ organizationId, userId, err: err.message }, 'sso role sync kept the current membership')
        return current?.role
      }
      throw err
    }
    return role
  }

  /** Throws ACCESS_DENIED with a reason. */
  static deny(reason: string): TollgateError {
    return new TollgateError('TOLLGATE_ERR_SSO_ACCESS_DENIED', reason)
  }
}
