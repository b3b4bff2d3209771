import { TollgateError } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose'
import { query } from '../db.js'
import { requestMeta } from '../login/complete-login.js'
import type { SsoContext } from '../plugin-context.js'
import type { OidcConfigs } from './oidc-configs.js'
import { oidcConnection } from './oidc-routes.js'

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

function invalid(reason: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_SSO_INVALID_LOGOUT_TOKEN', `logout_token: ${reason}`, { field: 'logout_token' })
}

/**
 * OIDC Back-Channel Logout 1.0: `POST /sso/oidc/:organizationId/backchannel-logout` (register it
 * at the IdP). The logout token is verified against the IdP's JWKS (signature, iss, aud = the
 * client id, iat within 5 minutes, the back-channel logout event, no nonce); the user's OIDC
 * sessions in the organization then end at once. Tokens naming only a `sid` are refused: sessions
 * are tracked per user, not per IdP session.
 */
export function registerBackchannelLogout(app: FastifyInstance, ctx: SsoContext, configs: OidcConfigs): void {
  const jwksByUri = new Map<string, ReturnType<typeof createRemoteJWKSet>>()

  app.post('/oidc/:organizationId/backchannel-logout', async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    const connection = await oidcConnection(ctx, organizationId)
    const token = (request.body as Record<string, unknown> | undefined)?.logout_token
    if (typeof token !== 'string' || token.length === 0) throw invalid('is required (form field)')
    const config = await configs.get(connection)
    const jwksUri = config.serverMetadata().jwks_uri
    if (!jwksUri) throw invalid('the identity provider publishes no jwks_uri')
    let jwks = jwksByUri.get(jwksUri)
    if (!jwks) {
      jwks = createRemoteJWKSet(new URL(jwksUri))
      jwksByUri.set(jwksUri, jwks)
    }
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(token, jwks, {
        issuer: connection.settings.issuer,
        audience: connection.settings.clientId,
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
        maxTokenAge: '5m',
        clockTolerance: ctx.config.clockSkewSeconds,
      }))
    } catch (err) {
      throw invalid(`rejected (${(err as { code?: string }).code ?? (err as Error).message})`)
    }
    const events = payload.events as Record<string, unknown> | undefined
    if (!events || typeof events[LOGOUT_EVENT] !== 'object') throw invalid('has no back-channel logout event')
    if (payload.nonce !== undefined) throw invalid('must not carry a nonce')
    if (typeof payload.sub !== 'string') throw invalid('must name the user (sub)')
    const [link] = await query<{ user_id: string }>(ctx.db, 'select user_id from sso_identity where organization_id = ? and subject = ?', [organizationId, `oidc:${payload.iss} ${payload.sub}`])
    if (link) {
      const ended = await query(ctx.db, "delete from sso_session where user_id = ? and organization_id = ? and method = 'oidc' returning id", [link.user_id, organizationId])
      if (ended.length > 0) await ctx.events.emit('sso.logout', { organizationId, userId: link.user_id, sessionId: '', all: true, via: 'idp' }, requestMeta(request, organizationId))
    }
    return reply.code(200).header('cache-control', 'no-store').send()
  })
}
