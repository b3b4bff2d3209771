import { defineErrorCatalog, type ErrorSpec } from '@tollgate/core'

function spec(status: number, openai: ErrorSpec['openai'], anthropic: ErrorSpec['anthropic'], description: string): ErrorSpec {
  return { status, openai, anthropic, description }
}

/** Every error code the sso plugin raises (README lists them; a test checks the two agree). */
export const SSO_ERRORS = defineErrorCatalog({
  TOLLGATE_ERR_SSO_NOT_CONFIGURED: spec(404, 'not_found_error', 'not_found_error', 'The organization has no enabled SSO connection of this protocol, or the plugin has no publicUrl.'),
  TOLLGATE_ERR_SSO_LOGIN_FAILED: spec(401, 'authentication_error', 'authentication_error', 'The identity provider response was rejected (state, signature, audience, issuer, nonce, expiry, replay).'),
  TOLLGATE_ERR_SSO_ACCESS_DENIED: spec(403, 'permission_error', 'permission_error', 'The identity is valid but may not sign in (deactivated, no mapped role, SSO enforced).'),
  TOLLGATE_ERR_SSO_INVALID_CREDENTIALS: spec(401, 'authentication_error', 'authentication_error', 'Email or password is wrong (local sign-in).'),
  TOLLGATE_ERR_SSO_TOO_MANY_ATTEMPTS: spec(429, 'rate_limit_error', 'rate_limit_error', 'Too many failed password sign-ins for this email; Retry-After says when to try again.'),
  TOLLGATE_ERR_SSO_CSRF: spec(403, 'permission_error', 'permission_error', 'A cookie-authenticated unsafe request lacked the x-csrf-token header matching the session.'),
  TOLLGATE_ERR_SSO_INVALID_LOGOUT_TOKEN: spec(400, 'invalid_request_error', 'invalid_request_error', 'An OIDC back-channel logout token failed verification (signature, iss, aud, age, events claim).'),
  TOLLGATE_ERR_SSO_INVALID_CONFIG: spec(400, 'invalid_request_error', 'invalid_request_error', 'An SSO connection setting is invalid; the message names the field.'),
  TOLLGATE_ERR_SCIM_UNAUTHORIZED: spec(401, 'authentication_error', 'authentication_error', 'The SCIM bearer token is missing, unknown or rotated away.'),
  TOLLGATE_ERR_SCIM_INVALID_FILTER: spec(400, 'invalid_request_error', 'invalid_request_error', 'The SCIM filter does not parse or uses an unsupported attribute or operator.'),
  TOLLGATE_ERR_SCIM_INVALID_VALUE: spec(400, 'invalid_request_error', 'invalid_request_error', 'A SCIM resource or PATCH operation has an invalid or missing value; the message names the attribute.'),
  TOLLGATE_ERR_SCIM_UNIQUENESS: spec(409, 'invalid_request_error', 'invalid_request_error', 'A SCIM userName or group displayName is already taken in the organization.'),
})

/** A code of the sso plugin's catalog. */
export type SsoErrorCode = keyof typeof SSO_ERRORS
