import type { IdentityService, PluginHost } from '@tollgate/core'
import type { Logger } from 'pino'
import type { SSOPluginConfig } from './config.js'
import type { ConnectionStore } from './connections/connection-store.js'
import type { Provisioner } from './login/provisioning.js'
import type { LoginStateStore } from './login/login-state.js'
import type { CookieSettings } from './sessions/cookies.js'
import type { SessionStore } from './sessions/session-store.js'

/** The event bus as the plugin host exposes it. */
export type SsoEvents = PluginHost['events']

/** Everything the plugin's routes share, built once in register. */
export interface SsoContext {
  config: SSOPluginConfig
  db: PluginHost['db']
  identity: IdentityService
  events: SsoEvents
  log: Logger
  connections: ConnectionStore
  sessions: SessionStore
  loginStates: LoginStateStore
  provisioner: Provisioner
  cookies: CookieSettings
}
