import type { Role } from '@tollgate/core'

/** How a session was obtained. */
export type SignInMethod = 'oidc' | 'saml' | 'password'

declare module '@tollgate/core' {
  interface DomainEvents {
    /** A user signed in to an organization and got a session. */
    'sso.login.succeeded': { organizationId: string; userId: string; method: SignInMethod; sessionId: string; provisioned: boolean }
    /** A sign-in was refused (bad IdP response, wrong password, enforced SSO, deactivated user). */
    'sso.login.failed': { organizationId?: string; method: SignInMethod; reason: string; email?: string }
    /** A session ended (`all`: every session of the user). */
    'sso.logout': { organizationId: string; userId: string; sessionId: string; all: boolean; via?: 'user' | 'idp' }
    'sso.connection.updated': { organizationId: string; protocol: 'oidc' | 'saml'; enabled: boolean; created: boolean }
    'sso.connection.deleted': { organizationId: string }
    'sso.policy.updated': { organizationId: string; enforced: boolean; breakGlassUserId: string | null; defaultRole: Role | null; groupRoles: { group: string; role: Role }[] }
    /** A user set their local password (used by the break-glass owner, and where SSO is not enforced). */
    'sso.password.set': { organizationId: string; userId: string }
    'sso.scimToken.rotated': { organizationId: string; tokenId: string; prefix: string }
    'sso.scimToken.revoked': { organizationId: string }
    'scim.user.created': { organizationId: string; scimId: string; userId: string; userName: string }
    'scim.user.updated': { organizationId: string; scimId: string; userId: string; active: boolean }
    /** A user was deactivated: sessions ended, API keys in the organization revoked (rows and spend kept). */
    'scim.user.deactivated': { organizationId: string; scimId: string; userId: string; sessionsEnded: number }
    'scim.user.deleted': { organizationId: string; scimId: string; userId: string }
    'scim.group.created': { organizationId: string; scimId: string; displayName: string }
    'scim.group.updated': { organizationId: string; scimId: string; displayName: string; membersAdded: number; membersRemoved: number }
    'scim.group.deleted': { organizationId: string; scimId: string; displayName: string }
  }
}
