import { TollgateError } from '@tollgate/core'
import type { SSOPluginConfig } from './config.js'

/** The gateway's public base URL without a trailing slash; the plugin refuses sign-ins without one. */
export function publicBase(config: SSOPluginConfig): string {
  if (!config.publicUrl) throw new TollgateError('TOLLGATE_ERR_SSO_NOT_CONFIGURED', 'The sso plugin has no publicUrl configured, so it cannot build redirect URLs')
  return config.publicUrl.replace(/\/+$/, '')
}

/** The exact OIDC redirect URI of an organization (register it at the IdP). */
export function oidcRedirectUri(config: SSOPluginConfig, organizationId: string): string {
  return `${publicBase(config)}/sso/oidc/${organizationId}/callback`
}

/** The SAML SP entity id of an organization (also its metadata URL). */
export function samlEntityId(config: SSOPluginConfig, organizationId: string): string {
  return `${publicBase(config)}/sso/saml/${organizationId}/metadata`
}

/** The SAML Assertion Consumer Service URL of an organization. */
export function samlAcsUrl(config: SSOPluginConfig, organizationId: string): string {
  return `${publicBase(config)}/sso/saml/${organizationId}/acs`
}
