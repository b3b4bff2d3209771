import type { JsonSchema } from '@tollgate/core'

/** Options of the sso plugin. */
export interface SSOPluginConfig {
  /**
   * The gateway's public base URL ("https://gateway.example.com"). Redirect URIs, the SAML ACS
   * URL and the SP entity id are built from it, never from request headers.
   */
  publicUrl?: string
  /** Session lifetime (absolute, default 12 h) and idle timeout (default 1 h), seconds. */
  sessionTtlSeconds: number
  sessionIdleSeconds: number
  /** Cookie names and flags; `secureCookies: false` only for plain-http development. */
  cookieName: string
  csrfCookieName: string
  secureCookies: boolean
  /** How long a started sign-in (state, nonce, PKCE verifier, SAML request id) stays valid, seconds. */
  loginStateTtlSeconds: number
  /** Failed password sign-ins allowed per email within `passwordLockoutSeconds` before further attempts get 429. */
  passwordMaxFailures: number
  passwordLockoutSeconds: number
  /** Allowed clock skew for IdP timestamps, seconds. */
  clockSkewSeconds: number
  /** Largest SCIM page (count). */
  scimMaxPageSize: number
  /**
   * 32-byte key (base64) encrypting IdP client secrets and deriving the CSRF key. Default: derived
   * from the gateway's `security.providerKeyEncryptionKey`.
   */
  encryptionKey?: string
}

/** JSON Schema of the plugin config (defaults applied by ajv). */
export const ssoConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    publicUrl: { type: 'string', pattern: '^https?://[^/?#]+(/[^?#]*)?$' },
    sessionTtlSeconds: { type: 'integer', minimum: 60, maximum: 2_592_000, default: 43_200 },
    sessionIdleSeconds: { type: 'integer', minimum: 60, maximum: 2_592_000, default: 3_600 },
    cookieName: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'tollgate_session' },
    csrfCookieName: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'tollgate_csrf' },
    secureCookies: { type: 'boolean', default: true },
    loginStateTtlSeconds: { type: 'integer', minimum: 30, maximum: 3_600, default: 600 },
    clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 600, default: 60 },
    passwordMaxFailures: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
    passwordLockoutSeconds: { type: 'integer', minimum: 10, maximum: 86_400, default: 900 },
    scimMaxPageSize: { type: 'integer', minimum: 1, maximum: 10_000, default: 1_000 },
    encryptionKey: { type: 'string', minLength: 40 },
  },
}
