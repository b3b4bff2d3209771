import { TollgateError } from '@tollgate/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import * as client from 'openid-client'
import type { Connection } from '../connections/types.js'
import { safeEqual } from '../crypto/tokens.js'
import { isUuid } from '../db.js'
import { completeFederatedLogin, loginFailure } from '../login/complete-login.js'
import { safeReturnTo } from '../login/login-state.js'
import type { SsoContext } from '../plugin-context.js'
import { clearLoginStateCookie, LOGIN_STATE_COOKIE, readCookie, setLoginStateCookie } from '../sessions/cookies.js'
import { oidcRedirectUri } from '../urls.js'
import type { OidcConfigs } from './oidc-configs.js'

type OidcConnection = Extract<Connection, { protocol: 'oidc' }>

/** The organization's enabled OIDC connection, or NOT_CONFIGURED. */
export async function oidcConnection(ctx: SsoContext, organizationId: string): Promise<OidcConnection> {
  const c = isUuid(organizationId) ? await ctx.connections.get(organizationId) : undefined
  if (c?.protocol !== 'oidc' || !c.enabled) throw new TollgateError('TOLLGATE_ERR_SSO_NOT_CONFIGURED', 'This organization has no enabled OIDC connection')
  return c
}

function groupsFrom(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string')
  if (typeof value === 'string' && value.length > 0) return [value]
  return []
}

/** Why openid-client refused a response (its message and the underlying cause), for the failure event. */
function reasonOf(err: unknown): string {
  const e = err as { code?: string; message?: string; error?: string; cause?: unknown }
  const cause = e.cause as { message?: string; code?: string } | undefined
  const parts = [e.code, e.error, e.message, cause && typeof cause === 'object' ? (cause.message ?? cause.code) : undefined]
  return parts.filter(Boolean).join(': ').slice(0, 300) || 'invalid response'
}

/**
 * OIDC relying party: `GET /sso/oidc/:organizationId/login` starts the authorization code flow
 * with PKCE (S256), state and nonce; `GET /sso/oidc/:organizationId/callback` finishes it. The
 * state is single-use, stored server-side and bound to the browser by a cookie; the redirect URI
 * is built from the configured public URL only.
 */
export function registerOidcRoutes(app: FastifyInstance, ctx: SsoContext, configs: OidcConfigs): void {
  app.get('/oidc/:organizationId/login', async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    const connection = await oidcConnection(ctx, organizationId)
    const config = await configs.get(connection).catch((err) => {
      throw new TollgateError('TOLLGATE_ERR_SSO_NOT_CONFIGURED', `The identity provider could not be discovered: ${reasonOf(err)}`)
    })
    const codeVerifier = client.randomPKCECodeVerifier()
    const nonce = client.randomNonce()
    const returnTo = safeReturnTo((request.query as Record<string, unknown>).returnTo)
    const state = await ctx.loginStates.create({ organizationId, protocol: 'oidc', codeVerifier, nonce, returnTo })
    const scopes = new Set(['openid', ...connection.settings.scopes])
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: oidcRedirectUri(ctx.config, organizationId),
      scope: [...scopes].join(' '),
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    })
    setLoginStateCookie(reply, ctx.cookies, state, ctx.config.loginStateTtlSeconds, false)
    return reply.code(302).header('location', url.href).header('cache-control', 'no-store').send()
  })

  app.get('/oidc/:organizationId/callback', async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    const connection = await oidcConnection(ctx, organizationId)
    const query = request.query as Record<string, unknown>
    const fail = (reason: string) => loginFailure(ctx.events, request, { organizationId, method: 'oidc', reason })
    clearLoginStateCookie(reply, ctx.cookies)
    const stateParam = typeof query.state === 'string' ? query.state : undefined
    if (!stateParam) throw await fail('the callback has no state')
    const pending = await ctx.loginStates.consume(stateParam, organizationId, 'oidc')
    if (!pending) throw await fail('unknown, used or expired state, or a state of another organization')
    const bound = readCookie(request, LOGIN_STATE_COOKIE)
    if (!bound || !safeEqual(bound, pending.state)) throw await fail('the sign-in was not started by this browser')
    if (!pending.codeVerifier || !pending.nonce) throw await fail('the sign-in has no PKCE verifier or nonce')
    if (typeof query.error === 'string') throw await fail(`the identity provider answered ${query.error.slice(0, 100)}`)
    if (typeof query.iss === 'string' && query.iss !== connection.settings.issuer) throw await fail('the response iss is not this organization\'s issuer')
    const config = await configs.get(connection)
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
    try {
      tokens = await client.authorizationCodeGrant(config, callbackUrl(ctx, organizationId, request), {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      })
    } catch (err) {
      throw await fail(`token response rejected (${reasonOf(err)})`)
    }
    const claims = tokens.claims()
    if (!claims) throw await fail('no ID token')
    let userinfo: client.UserInfoResponse | undefined
    if (config.serverMetadata().userinfo_endpoint) {
      try {
        // The subject check makes userinfo answer for the same user the ID token names.
        userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
      } catch (err) {
        throw await fail(`userinfo rejected (${reasonOf(err)})`)
      }
    }
    const merged: Record<string, unknown> = { ...userinfo, ...claims }
    const email = typeof merged.email === 'string' ? merged.email : undefined
    if (!email) throw await fail('the identity provider did not release an email')
    if (merged.email_verified === false) throw await fail('the identity provider says the email is not verified')
    const groupsClaim = connection.settings.groupsClaim
    const groups = [...new Set([...groupsFrom(claims[groupsClaim]), ...groupsFrom(userinfo?.[groupsClaim])])]
    const name = typeof merged.name === 'string' ? merged.name : undefined
    return completeFederatedLogin(ctx, request, reply, { organizationId, method: 'oidc', asserted: { subject: `oidc:${claims.iss} ${claims.sub}`, email, name, groups }, returnTo: pending.returnTo })
  })
}

/** The callback URL as the IdP sent it, rebuilt on the configured public URL (never the Host header). */
function callbackUrl(ctx: SsoContext, organizationId: string, request: FastifyRequest): URL {
  const url = new URL(oidcRedirectUri(ctx.config, organizationId))
  const raw = request.raw.url ?? ''
  const q = raw.indexOf('?')
  url.search = q >= 0 ? raw.slice(q) : ''
  return url
}
