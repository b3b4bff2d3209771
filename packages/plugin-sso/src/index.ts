import { definePlugin } from '@tollgate/core'

/** Options of the sso plugin. This release accepts none; its schema rejects unknown keys so a setting is never silently ignored. */
export type SSOPluginConfig = Record<string, never>

/**
 * The sso plugin. Single sign-on with OIDC and SAML 2.0, SCIM 2.0 provisioning, group-to-role mapping and sessions.
 *
 * This first release only reserves the plugin id `sso` and its place in the gateway's plugin
 * list: `register` adds no hooks, routes, tables or workers, so adding it changes nothing about
 * how requests are served. Later releases will sign members in through your identity provider and provision them with SCIM.
 */
export const ssoPlugin = definePlugin<SSOPluginConfig>({
  id: 'sso',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  register(host) {
    host.log.debug('sso plugin registered; this release adds no hooks or routes')
  },
})
