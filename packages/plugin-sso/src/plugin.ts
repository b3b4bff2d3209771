import { randomBytes } from 'node:crypto'
import { CoreExtensions, CoreServices, definePlugin } from '@tollgate/core'
import { type SSOPluginConfig, ssoConfigSchema } from './config.js'
import { ConnectionStore } from './connections/connection-store.js'
import { registerConnectionRoutes } from './connections/connection-routes.js'
import { deriveKey, SecretBox } from './crypto/secret-box.js'
import './errors.js'
import './events.js'
import { LoginStateStore } from './login/login-state.js'
import { Provisioner } from './login/provisioning.js'
import { registerSsoMetrics } from './metrics.js'
import { SSO_MIGRATIONS } from './migrations.js'
import { OidcConfigs } from './oidc/oidc-configs.js'
import { registerBackchannelLogout } from './oidc/backchannel-logout.js'
import { registerOidcRoutes } from './oidc/oidc-routes.js'
import type { SsoContext } from './plugin-context.js'
import { registerSamlRoutes } from './saml/saml-routes.js'
import { registerScimRoutes } from './scim/scim-routes.js'
import { createSessionAuthenticator } from './sessions/session-authenticator.js'
import { registerPasswordLogin, registerSessionRoutes } from './sessions/session-routes.js'
import { SessionStore } from './sessions/session-store.js'

function masterKey(config: SSOPluginConfig, gatewayConfig: Readonly<Record<string, unknown>>, warn: (msg: string) => void): Buffer {
  const text = config.encryptionKey ?? (gatewayConfig.security as { providerKeyEncryptionKey?: string } | undefined)?.providerKeyEncryptionKey
  if (text) {
    const key = Buffer.from(text, 'base64')
    if (key.length !== 32) throw new Error('sso: encryptionKey must be 32 bytes, base64-encoded')
    return key
  }
  warn('sso: no encryption key (plugin encryptionKey or gateway security.providerKeyEncryptionKey): stored IdP client secrets and sessions will not survive a restart')
  return randomBytes(32)
}

/**
 * The sso plugin: OIDC and SAML 2.0 sign-in per organization, SCIM 2.0 provisioning, group →
 * role mapping, enforced SSO with a break-glass owner, and cookie sessions accepted by the
 * management API (through core's authenticator extension point).
 */
export const ssoPlugin = definePlugin<SSOPluginConfig>({
  id: 'sso',
  configSchema: ssoConfigSchema,
  migrations: SSO_MIGRATIONS,
  register(host, config) {
    const master = masterKey(config, host.gatewayConfig, (m) => host.log.warn(m))
    const identity = host.services.get(CoreServices.identity)
    const connections = new ConnectionStore(host.db, new SecretBox(deriveKey(master, 'client-secrets')))
    const sessions = new SessionStore(host.db, deriveKey(master, 'csrf'), config.sessionTtlSeconds, config.sessionIdleSeconds)
    const loginStates = new LoginStateStore(host.db, config.loginStateTtlSeconds)
    const ctx: SsoContext = {
      config,
      db: host.db,
      identity,
      events: host.events,
      log: host.log,
      connections,
      sessions,
      loginStates,
      provisioner: new Provisioner(host.db, identity, connections, host.log),
      cookies: { sessionName: config.cookieName, csrfName: config.csrfCookieName, secure: config.secureCookies, sessionTtlSeconds: config.sessionTtlSeconds },
    }
    const oidcConfigs = new OidcConfigs()

    registerSsoMetrics(host)
    host.services.extend(CoreExtensions.authenticators, createSessionAuthenticator({ sessions, identity, connections, cookieName: config.cookieName }))

    // Sign-in endpoints authenticate by themselves (IdP responses, passwords).
    host.routes(
      '/sso',
      (app) => {
        // IdPs post forms (SAML ACS, OIDC back-channel logout).
        app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 512 * 1024 }, (_request, body, done) => {
          done(null, Object.fromEntries(new URLSearchParams(body as string)))
        })
        registerOidcRoutes(app, ctx, oidcConfigs)
        registerBackchannelLogout(app, ctx, oidcConfigs)
        registerSamlRoutes(app, ctx)
        registerPasswordLogin(app, ctx)
      },
      { auth: 'none' },
    )
    // Session and management endpoints: a session cookie or an API key.
    host.routes('/sso', (app) => {
      registerSessionRoutes(app, ctx)
      registerConnectionRoutes(app, ctx, oidcConfigs)
    })
    host.routes('/scim/v2', (app) => registerScimRoutes(app, ctx), { auth: 'none' })

    host.workers.add({
      name: 'sso.purge-expired',
      intervalMs: 10 * 60_000,
      async run({ log }) {
        const n = (await sessions.purgeExpired()) + (await loginStates.purgeExpired())
        if (n > 0) log.debug({ purged: n }, 'sso: purged expired sessions, sign-in states and replay-cache entries')
      },
    })
  },
})
