import type { Role } from '@tollgate/core'

/** OIDC settings of a connection (the client secret is stored apart, encrypted). */
export interface OidcSettings {
  /** Issuer URL; discovery reads `<issuer>/.well-known/openid-configuration` and its `issuer` must match exactly. */
  issuer: string
  clientId: string
  /** Scopes requested (always includes openid). */
  scopes: string[]
  /** Claim holding the user's groups in the ID token or userinfo. */
  groupsClaim: string
  /** Allows an http:// issuer (development and tests only). */
  allowInsecureHttp: boolean
}

/** SAML settings of a connection. */
export interface SamlSettings {
  idpEntityId: string
  idpSsoUrl: string
  /** The IdP's signing certificates (PEM or bare base64); several during a rollover. */
  idpCertificates: string[]
  /** Attribute holding the email (NameID is used when it is an email and the attribute is absent). */
  emailAttribute: string
  groupsAttribute: string
  nameAttribute: string
}

/** A per-organization SSO connection. */
export type Connection =
  | { organizationId: string; protocol: 'oidc'; enabled: boolean; settings: OidcSettings; clientSecret?: string; updatedAt: Date }
  | { organizationId: string; protocol: 'saml'; enabled: boolean; settings: SamlSettings; updatedAt: Date }

/** One group → role rule. */
export interface GroupRole {
  group: string
  role: Role
}

/** An organization's sign-in policy. */
export interface SsoPolicy {
  organizationId: string
  /** When true, members sign in only through the IdP; the break-glass owner keeps a password. */
  enforced: boolean
  breakGlassUserId: string | null
  /** Role for a user none of whose groups is mapped (null: such users may not sign in). Never owner. */
  defaultRole: Exclude<Role, 'owner'> | null
  groupRoles: GroupRole[]
}
