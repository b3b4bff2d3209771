import type { CacheProvider } from '@node-saml/node-saml'
import { TollgateError } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import type { Connection } from '../connections/types.js'
import { safeEqual } from '../crypto/tokens.js'
import { isUuid, query } from '../db.js'
import { completeFederatedLogin, loginFailure } from '../login/complete-login.js'
import { safeReturnTo } from '../login/login-state.js'
import type { SsoContext } from '../plugin-context.js'
import { clearLoginStateCookie, LOGIN_STATE_COOKIE, readCookie, setLoginStateCookie } from '../sessions/cookies.js'
import { samlAcsUrl } from '../urls.js'
import { precheckResponse, samlFor, verifiedAssertionOf } from './saml-sp.js'

type SamlConnection = Extract<Connection, { protocol: 'saml' }>

async function samlConnection(ctx: SsoContext, organizationId: string): Promise<SamlConnection> {
  const c = isUuid(organizationId) ? await ctx.connections.get(organizationId) : undefined
  if (c?.protocol !== 'saml' || !c.enabled) throw new TollgateError('TOLLGATE_ERR_SSO_NOT_CONFIGURED', 'This organization has no enabled SAML connection')
  return c
}

function stringsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
  return typeof value === 'string' && value.length > 0 ? [value] : []
}

/** node-saml's request-id cache during sign-in start: the id is recorded on the sign-in's state row. */
function recordingCache(ctx: SsoContext, state: string): CacheProvider {
  return {
    saveAsync: async (key, value) => {
      await ctx.loginStates.setSamlRequestId(state, key)
      return { value, createdAt: Date.now() }
    },
    getAsync: async () => null,
    removeAsync: async () => null,
  }
}

/** node-saml's request-id cache at the ACS: exactly the one id of the consumed sign-in is known. */
function consumedCache(requestId: string | null, createdAt: Date): CacheProvider {
  return {
    saveAsync: async () => null,
    getAsync: async (key) => (requestId !== null && key === requestId ? createdAt.toISOString() : null),
    removeAsync: async () => null,
  }
}

/**
 * SAML 2.0 service provider: SP metadata, SP-initiated sign-in (HTTP-Redirect AuthnRequest) and
 * the ACS (HTTP-POST). Only signed assertions are accepted; audience, Recipient, InResponseTo,
 * NotOnOrAfter and issuer are checked; each assertion id is accepted once across all instances
 * (sso_saml_assertion); identity comes only from the signed assertion.
 */
export function registerSamlRoutes(app: FastifyInstance, ctx: SsoContext): void {
  app.get('/saml/:organizationId/metadata', async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    const c = await samlConnection(ctx, organizationId)
    const xml = samlFor(ctx.config, organizationId, c.settings, consumedCache(null, new Date())).generateServiceProviderMetadata(null, null)
    return reply.header('content-type', 'application/samlmetadata+xml; charset=utf-8').send(xml)
  })

  app.get('/saml/:organizationId/login', async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    const c = await samlConnection(ctx, organizationId)
    const returnTo = safeReturnTo((request.query as Record<string, unknown>).returnTo)
    const state = await ctx.loginStates.create({ organizationId, protocol: 'saml', returnTo })
    const url = await samlFor(ctx.config, organizationId, c.settings, recordingCache(ctx, state)).getAuthorizeUrlAsync(state, undefined, {})
    setLoginStateCookie(reply, ctx.cookies, state, ctx.config.loginStateTtlSeconds, true)
    return reply.code(302).header('location', url).header('cache-control', 'no-store').send()
  })

  app.post('/saml/:organizationId/acs', async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    const c = await samlConnection(ctx, organizationId)
    const fail = (reason: string) => loginFailure(ctx.events, request, { organizationId, method: 'saml', reason })
    clearLoginStateCookie(reply, ctx.cookies)
    const body = (request.body ?? {}) as Record<string, unknown>
    const samlResponse = typeof body.SAMLResponse === 'string' ? body.SAMLResponse : undefined
    const relayState = typeof body.RelayState === 'string' ? body.RelayState : undefined
    if (!samlResponse) throw await fail('no SAMLResponse was posted')
    if (!relayState) throw await fail('no RelayState was posted (IdP-initiated sign-in is not accepted)')
    const pending = await ctx.loginStates.consume(relayState, organizationId, 'saml')
    if (!pending) throw await fail('unknown, used or expired RelayState, or one of another organization')
    const bound = readCookie(request, LOGIN_STATE_COOKIE)
    if (!bound || !safeEqual(bound, pending.state)) throw await fail('the sign-in was not started by this browser')
    const bad = precheckResponse(samlResponse)
    if (bad) throw await fail(bad)
    const acsUrl = samlAcsUrl(ctx.config, organizationId)
    let verified: ReturnType<typeof verifiedAssertionOf>
    try {
      const sp = samlFor(ctx.config, organizationId, c.settings, consumedCache(pending.samlRequestId, pending.createdAt))
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: samlResponse })
      if (!profile) throw new Error('the response carries no assertion')
      verified = verifiedAssertionOf(profile, { acsUrl, idpEntityId: c.settings.idpEntityId })
    } catch (err) {
      throw await fail(`response rejected (${String((err as Error).message ?? err).slice(0, 200)})`)
    }
    // The replay cache: an assertion id is accepted once, across every instance sharing the database.
    const fresh = await query(
      ctx.db,
      'insert into sso_saml_assertion (organization_id, assertion_id, expires_at) values (?, ?, ?::timestamptz) on conflict do nothing returning assertion_id',
      [organizationId, verified.assertionId, new Date(verified.notOnOrAfter.getTime() + ctx.config.clockSkewSeconds * 1000).toISOString()],
    )
    if (fresh.length === 0) throw await fail('the assertion was already used (replay)')
    const attrs = verified.attributes
    const email = stringsOf(attrs[c.settings.emailAttribute])[0] ?? (/^[^@\s]+@[^@\s]+$/.test(verified.nameId) ? verified.nameId : undefined)
    if (!email) throw await fail('the assertion carries no email')
    const name = stringsOf(attrs[c.settings.nameAttribute])[0]
    const groups = stringsOf(attrs[c.settings.groupsAttribute])
    return completeFederatedLogin(ctx, request, reply, {
      organizationId,
      method: 'saml',
      asserted: { subject: `saml:${verified.issuer} ${verified.nameId}`, email, name, groups },
      returnTo: pending.returnTo,
    })
  })
}
