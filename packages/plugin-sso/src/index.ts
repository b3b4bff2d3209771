/**
 * @tollgate/plugin-sso — OIDC and SAML 2.0 single sign-on per organization, SCIM 2.0
 * provisioning, group → role mapping, enforced SSO with a break-glass owner, and sessions for the
 * dashboard and management API.
 */
import './events.js'

export { ssoPlugin } from './plugin.js'
export type { SSOPluginConfig } from './config.js'
export { SSO_ERRORS, type SsoErrorCode } from './errors.js'
export type { SignInMethod } from './events.js'
export type { Connection, OidcSettings, SamlSettings, SsoPolicy, GroupRole } from './connections/types.js'
export { roleForGroups } from './connections/role-mapping.js'
export { parseFilter, type Filter } from './scim/scim-filter.js'
export { CSRF_HEADER } from './sessions/session-authenticator.js'
