import { ROLES, TollgateError } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { actorMeta, requireRole } from '../access.js'
import { randomToken, sha256 } from '../crypto/tokens.js'
import { rows, transaction } from '../db.js'
import type { OidcConfigs } from '../oidc/oidc-configs.js'
import type { SsoContext } from '../plugin-context.js'
import { oidcRedirectUri, samlAcsUrl, samlEntityId } from '../urls.js'
import type { Connection, OidcSettings, SamlSettings, SsoPolicy } from './types.js'

const orgParams = { type: 'object', required: ['organizationId'], properties: { organizationId: { type: 'string' } } }

const oidcSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'clientId'],
  properties: {
    issuer: { type: 'string', pattern: '^https?://' , maxLength: 2048 },
    clientId: { type: 'string', minLength: 1, maxLength: 512 },
    clientSecret: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
    scopes: { type: 'array', maxItems: 20, items: { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }, default: ['email', 'profile'] },
    groupsClaim: { type: 'string', minLength: 1, maxLength: 200, default: 'groups' },
    allowInsecureHttp: { type: 'boolean', default: false },
  },
}

const samlSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['idpEntityId', 'idpSsoUrl', 'idpCertificates'],
  properties: {
    idpEntityId: { type: 'string', minLength: 1, maxLength: 2048 },
    idpSsoUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
    idpCertificates: { type: 'array', minItems: 1, maxItems: 5, items: { type: 'string', minLength: 100, maxLength: 20_000 } },
    emailAttribute: { type: 'string', minLength: 1, maxLength: 512, default: 'email' },
    groupsAttribute: { type: 'string', minLength: 1, maxLength: 512, default: 'groups' },
    nameAttribute: { type: 'string', minLength: 1, maxLength: 512, default: 'name' },
  },
}

const connectionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['protocol'],
  properties: { protocol: { enum: ['oidc', 'saml'] }, enabled: { type: 'boolean', default: true }, oidc: oidcSchema, saml: samlSchema },
}

const policyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['enforced'],
  properties: {
    enforced: { type: 'boolean' },
    breakGlassUserId: { type: ['string', 'null'], format: 'uuid' },
    defaultRole: { enum: ['admin', 'member', 'developer', 'viewer', null] },
    groupRoles: {
      type: 'array',
      maxItems: 500,
      items: { type: 'object', additionalProperties: false, required: ['group', 'role'], properties: { group: { type: 'string', minLength: 1, maxLength: 512 }, role: { enum: [...ROLES] } } },
    },
  },
}

function invalid(field: string, message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_SSO_INVALID_CONFIG', `${field} ${message}`, { field })
}

/** The public view of a connection: never the client secret, plus the URLs to register at the IdP. */
function view(ctx: SsoContext, c: Connection) {
  const base = { organizationId: c.organizationId, protocol: c.protocol, enabled: c.enabled, updatedAt: c.updatedAt.toISOString() }
  if (c.protocol === 'oidc') {
    return { ...base, oidc: { ...c.settings, hasClientSecret: Boolean(c.clientSecret) }, serviceProvider: { redirectUri: ctx.config.publicUrl ? oidcRedirectUri(ctx.config, c.organizationId) : null } }
  }
  return {
    ...base,
    saml: c.settings,
    serviceProvider: ctx.config.publicUrl ? { entityId: samlEntityId(ctx.config, c.organizationId), acsUrl: samlAcsUrl(ctx.config, c.organizationId), metadataUrl: samlEntityId(ctx.config, c.organizationId) } : null,
  }
}

/**
 * Management routes (session or admin API key): connections and policy are read by admins and
 * changed by owners only — a connection decides who can sign in, and a policy can map a group to
 * owner. SCIM tokens are rotated by owners; the secret is shown once.
 */
export function registerConnectionRoutes(app: FastifyInstance, ctx: SsoContext, oidcConfigs: OidcConfigs): void {
  app.get('/organizations/:organizationId/connection', { schema: { params: orgParams } }, async (request) => {
    const { organizationId } = request.params as { organizationId: string }
    await requireRole(ctx.identity, request, organizationId, 'admin')
    const c = await ctx.connections.get(organizationId)
    if (!c) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'This organization has no SSO connection')
    return view(ctx, c)
  })

  app.put('/organizations/:organizationId/connection', { schema: { params: orgParams, body: connectionBody } }, async (request) => {
    const { organizationId } = request.params as { organizationId: string }
    await requireRole(ctx.identity, request, organizationId, 'owner')
    const body = request.body as { protocol: 'oidc' | 'saml'; enabled: boolean; oidc?: OidcSettings & { clientSecret?: string | null }; saml?: SamlSettings }
    const settings = body.protocol === 'oidc' ? body.oidc : body.saml
    if (!settings) throw invalid(body.protocol, `settings are required when protocol is "${body.protocol}"`)
    if (body.protocol === 'oidc' && body.saml) throw invalid('saml', 'must be absent when protocol is "oidc"')
    if (body.protocol === 'saml' && body.oidc) throw invalid('oidc', 'must be absent when protocol is "saml"')
    let clientSecret: string | null | undefined
    if (body.protocol === 'oidc') {
      const { clientSecret: secret, ...rest } = body.oidc as OidcSettings & { clientSecret?: string | null }
      clientSecret = secret
      if (!rest.allowInsecureHttp && !rest.issuer.startsWith('https://')) throw invalid('oidc.issuer', 'must be https (set allowInsecureHttp only for development)')
      // The secret is stored sealed, apart from the settings.
      delete (settings as { clientSecret?: unknown }).clientSecret
    } else {
      for (const [i, cert] of (body.saml as SamlSettings).idpCertificates.entries()) {
        if (!/^(-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*|[A-Za-z0-9+/=\s]+)$/.test(cert.trim())) throw invalid(`saml.idpCertificates[${i}]`, 'must be a PEM or base64 X.509 certificate')
      }
    }
    if (!body.enabled && (await ctx.connections.policy(organizationId)).enforced) throw invalid('enabled', 'cannot be false while SSO is enforced: turn enforcement off first')
    const created = await transaction(ctx.db, async (em) => {
      const made = await ctx.connections.put(em, { organizationId, protocol: body.protocol, enabled: body.enabled, settings, clientSecret })
      await ctx.events.emit('sso.connection.updated', { organizationId, protocol: body.protocol, enabled: body.enabled, created: made }, { ...actorMeta(request, organizationId), em })
      return made
    })
    oidcConfigs.forget(organizationId)
    const c = await ctx.connections.get(organizationId)
    return { created, connection: c ? view(ctx, c) : null }
  })

  app.delete('/organizations/:organizationId/connection', { schema: { params: orgParams } }, async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    await requireRole(ctx.identity, request, organizationId, 'owner')
    if ((await ctx.connections.policy(organizationId)).enforced) throw invalid('enforced', 'is on: turn SSO enforcement off before deleting the connection')
    const deleted = await transaction(ctx.db, async (em) => {
      const d = await ctx.connections.delete(em, organizationId)
      if (d) await ctx.events.emit('sso.connection.deleted', { organizationId }, { ...actorMeta(request, organizationId), em })
      return d
    })
    oidcConfigs.forget(organizationId)
    if (!deleted) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'This organization has no SSO connection')
    return reply.code(204).send()
  })

  app.get('/organizations/:organizationId/policy', { schema: { params: orgParams } }, async (request) => {
    const { organizationId } = request.params as { organizationId: string }
    await requireRole(ctx.identity, request, organizationId, 'admin')
    return ctx.connections.policy(organizationId)
  })

  app.put('/organizations/:organizationId/policy', { schema: { params: orgParams, body: policyBody } }, async (request) => {
    const { organizationId } = request.params as { organizationId: string }
    await requireRole(ctx.identity, request, organizationId, 'owner')
    const body = request.body as { enforced: boolean; breakGlassUserId?: string | null; defaultRole?: SsoPolicy['defaultRole']; groupRoles?: SsoPolicy['groupRoles'] }
    const current = await ctx.connections.policy(organizationId)
    const policy: SsoPolicy = {
      organizationId,
      enforced: body.enforced,
      breakGlassUserId: body.breakGlassUserId === undefined ? current.breakGlassUserId : body.breakGlassUserId,
      defaultRole: body.defaultRole === undefined ? current.defaultRole : body.defaultRole,
      groupRoles: body.groupRoles ?? current.groupRoles,
    }
    if (policy.breakGlassUserId) {
      const m = await ctx.identity.membership(organizationId, policy.breakGlassUserId)
      if (m?.role !== 'owner') throw invalid('breakGlassUserId', 'must be an owner of the organization')
    }
    if (policy.enforced) {
      const c = await ctx.connections.get(organizationId)
      if (!c?.enabled) throw invalid('enforced', 'needs an enabled SSO connection first (or members could not sign in at all)')
      if (!policy.breakGlassUserId) throw invalid('breakGlassUserId', 'is required when SSO is enforced (one owner must keep a local credential)')
    }
    const seen = new Set<string>()
    for (const [i, rule] of policy.groupRoles.entries()) {
      if (seen.has(rule.group)) throw invalid(`groupRoles[${i}].group`, `maps "${rule.group}" twice`)
      seen.add(rule.group)
    }
    const ended = await transaction(ctx.db, async (em) => {
      await ctx.connections.putPolicy(em, policy)
      const n = policy.enforced ? await ctx.sessions.endPasswordSessions(em, organizationId, policy.breakGlassUserId) : 0
      await ctx.events.emit(
        'sso.policy.updated',
        { organizationId, enforced: policy.enforced, breakGlassUserId: policy.breakGlassUserId, defaultRole: policy.defaultRole, groupRoles: policy.groupRoles },
        { ...actorMeta(request, organizationId), em },
      )
      return n
    })
    return { ...policy, passwordSessionsEnded: ended }
  })

  app.post('/organizations/:organizationId/scim-token', { schema: { params: orgParams } }, async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    await requireRole(ctx.identity, request, organizationId, 'owner')
    const token = randomToken('tgscim_')
    const prefix = token.slice(0, 14)
    const id = await transaction(ctx.db, async (em) => {
      // Rotation: every earlier token of the organization stops working in the same transaction.
      await rows(em, 'update sso_scim_token set revoked_at = now() where organization_id = ? and revoked_at is null returning id', [organizationId])
      const [row] = await rows<{ id: string }>(em, 'insert into sso_scim_token (id, organization_id, token_hash, prefix) values (gen_random_uuid(), ?, ?, ?) returning id', [organizationId, sha256(token), prefix])
      await ctx.events.emit('sso.scimToken.rotated', { organizationId, tokenId: row.id, prefix }, { ...actorMeta(request, organizationId), em })
      return row.id
    })
    return reply.code(201).header('cache-control', 'no-store').send({ id, token, prefix, baseUrl: ctx.config.publicUrl ? `${ctx.config.publicUrl.replace(/\/+$/, '')}/scim/v2` : '/scim/v2' })
  })

  app.delete('/organizations/:organizationId/scim-token', { schema: { params: orgParams } }, async (request, reply) => {
    const { organizationId } = request.params as { organizationId: string }
    await requireRole(ctx.identity, request, organizationId, 'owner')
    await transaction(ctx.db, async (em) => {
      await rows(em, 'update sso_scim_token set revoked_at = now() where organization_id = ? and revoked_at is null returning id', [organizationId])
      await ctx.events.emit('sso.scimToken.revoked', { organizationId }, { ...actorMeta(request, organizationId), em })
    })
    return reply.code(204).send()
  })
}
