import * as client from 'openid-client'
import type { Connection, OidcSettings } from '../connections/types.js'

type OidcConnection = Extract<Connection, { protocol: 'oidc' }>

const TTL_MS = 10 * 60_000

/**
 * openid-client configurations per organization, from issuer discovery, cached for ten minutes
 * and dropped when the connection changes (keyed by its update time). Discovery checks that the
 * document's `issuer` equals the configured one; ID token signatures are always verified against
 * the IdP's JWKS (non-repudiation checks on), not trusted because they came over TLS.
 */
export class OidcConfigs {
  readonly #cache = new Map<string, { version: number; expires: number; config: Promise<client.Configuration> }>()

  /** The configuration of a connection. */
  async get(connection: OidcConnection): Promise<client.Configuration> {
    const version = connection.updatedAt.getTime()
    const hit = this.#cache.get(connection.organizationId)
    if (hit && hit.version === version && hit.expires > Date.now()) return hit.config
    const config = discover(connection.settings, connection.clientSecret)
    this.#cache.set(connection.organizationId, { version, expires: Date.now() + TTL_MS, config })
    config.catch(() => this.#cache.delete(connection.organizationId))
    return config
  }

  /** Forgets an organization's configuration (connection changed or deleted). */
  forget(organizationId: string): void {
    this.#cache.delete(organizationId)
  }
}

async function discover(settings: OidcSettings, clientSecret: string | undefined): Promise<client.Configuration> {
  const auth = clientSecret ? client.ClientSecretPost(clientSecret) : client.None()
  const options = settings.allowInsecureHttp ? { execute: [client.allowInsecureRequests], timeout: 10 } : { timeout: 10 }
  const config = await client.discovery(new URL(settings.issuer), settings.clientId, { id_token_signed_response_alg: 'RS256' }, auth, options)
  client.enableNonRepudiationChecks(config)
  return config
}
