import { isTollgateError, TollgateError } from '@tollgate/core'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { sha256 } from '../crypto/tokens.js'
import { query } from '../db.js'
import type { SsoContext } from '../plugin-context.js'
import { resourceTypes, schemas, serviceProviderConfig } from './scim-discovery.js'
import { ScimGroups } from './scim-groups.js'
import { ScimLifecycle, scimMeta } from './scim-lifecycle.js'
import { ERROR_SCHEMA, LIST_SCHEMA, PATCH_SCHEMA } from './scim-resources.js'
import { ScimUsers } from './scim-users.js'

const SCIM_JSON = 'application/scim+json; charset=utf-8'

const SCIM_TYPES: Record<string, string> = {
  TOLLGATE_ERR_SCIM_INVALID_FILTER: 'invalidFilter',
  TOLLGATE_ERR_SCIM_UNIQUENESS: 'uniqueness',
  TOLLGATE_ERR_SCIM_INVALID_VALUE: 'invalidValue',
  TOLLGATE_ERR_REQUEST_INVALID_JSON: 'invalidSyntax',
}

interface ScimAuth {
  organizationId: string
  tokenId: string
}

const authByRequest = new WeakMap<FastifyRequest, ScimAuth>()

function auth(request: FastifyRequest): ScimAuth {
  const a = authByRequest.get(request)
  if (!a) throw new TollgateError('TOLLGATE_ERR_SCIM_UNAUTHORIZED', 'Send the organization\'s SCIM token as "Authorization: Bearer <token>"')
  return a
}

/** Renders an error as a SCIM Error message (RFC 7644 §3.12), with the stable code beside it. */
function sendScimError(reply: FastifyReply, err: TollgateError): FastifyReply {
  const scimType = (err.code === 'TOLLGATE_ERR_SCIM_INVALID_VALUE' && err.field && ['invalidPath', 'noTarget'].includes(err.field) ? err.field : undefined) ?? SCIM_TYPES[err.code]
  if (err.status === 401) reply.header('www-authenticate', 'Bearer realm="scim"')
  return reply
    .code(err.status)
    .header('content-type', SCIM_JSON)
    .send(JSON.stringify({ schemas: [ERROR_SCHEMA], status: String(err.status), ...(scimType ? { scimType } : {}), detail: err.message, code: err.code }))
}

function pageOf(q: Record<string, unknown>, max: number): { startIndex: number; count: number } {
  const start = Number.parseInt(String(q.startIndex ?? '1'), 10)
  const count = Number.parseInt(String(q.count ?? '100'), 10)
  return { startIndex: Number.isFinite(start) && start >= 1 ? start : 1, count: Number.isFinite(count) ? Math.min(Math.max(count, 0), max) : Math.min(100, max) }
}

function listResponse(total: number, startIndex: number, resources: unknown[]) {
  return { schemas: [LIST_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources }
}

function patchOps(body: unknown): unknown {
  const b = (body ?? {}) as Record<string, unknown>
  const schemasList = Array.isArray(b.schemas) ? b.schemas : []
  if (!schemasList.includes(PATCH_SCHEMA)) throw new TollgateError('TOLLGATE_ERR_SCIM_INVALID_VALUE', `schemas must contain ${PATCH_SCHEMA}`, { field: 'schemas' })
  return b.Operations ?? b.operations
}

/**
 * The SCIM 2.0 server at /scim/v2: Users, Groups, ServiceProviderConfig, ResourceTypes, Schemas.
 * Each organization authenticates with its own bearer token (stored hashed; rotating it revokes
 * the old one); every query is scoped to the token's organization, so another organization's
 * resource is a 404. Bodies and responses are application/scim+json.
 */
export function registerScimRoutes(app: FastifyInstance, ctx: SsoContext): void {
  const base = ctx.config.publicUrl ? `${ctx.config.publicUrl.replace(/\/+$/, '')}/scim/v2` : '/scim/v2'
  const lifecycle = new ScimLifecycle(ctx)
  const users = new ScimUsers(ctx, lifecycle, base)
  const groups = new ScimGroups(ctx, lifecycle, base)
  const max = ctx.config.scimMaxPageSize

  app.removeContentTypeParser('application/json')
  app.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string', bodyLimit: 10 * 1024 * 1024 }, (_request, body, done) => {
    try {
      done(null, (body as string).length === 0 ? undefined : JSON.parse(body as string))
    } catch (err) {
      done(new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_JSON', `The request body is not valid JSON: ${(err as Error).message}`), undefined)
    }
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isTollgateError(err)) return sendScimError(reply, err)
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendScimError(reply, new TollgateError('TOLLGATE_ERR_SCIM_INVALID_VALUE', err.message, { status: err.statusCode }))
    ctx.log.error({ err, reqId: request.id }, 'scim request failed')
    return sendScimError(reply, new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', 'Internal error'))
  })
  app.setNotFoundHandler((_request, reply) => sendScimError(reply, new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'No such SCIM endpoint')))

  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (!m) throw new TollgateError('TOLLGATE_ERR_SCIM_UNAUTHORIZED', 'Send the organization\'s SCIM token as "Authorization: Bearer <token>"')
    const [row] = await query<{ id: string; organization_id: string }>(ctx.db, 'select id, organization_id from sso_scim_token where token_hash = ? and revoked_at is null', [sha256(m[1])])
    if (!row) throw new TollgateError('TOLLGATE_ERR_SCIM_UNAUTHORIZED', 'The SCIM token is unknown or was rotated')
    authByRequest.set(request, { organizationId: row.organization_id, tokenId: row.id })
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type')
    if (typeof type === 'string' && type.startsWith('application/json')) reply.header('content-type', SCIM_JSON)
    return payload
  })

  const meta = (request: FastifyRequest) => {
    const a = auth(request)
    return scimMeta(a.organizationId, a.tokenId, request.ip, request.headers['user-agent'])
  }
  const notFound = (what: string) => new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `${what} not found`)

  app.get('/ServiceProviderConfig', async () => serviceProviderConfig(base, max))
  app.get('/ResourceTypes', async () => listResponse(2, 1, resourceTypes(base)))
  app.get('/ResourceTypes/:id', async (request) => {
    const found = resourceTypes(base).find((r) => r.id === (request.params as { id: string }).id)
    if (!found) throw notFound('Resource type')
    return found
  })
  app.get('/Schemas', async () => listResponse(2, 1, schemas(base)))
  app.get('/Schemas/:id', async (request) => {
    const found = schemas(base).find((s) => s.id === (request.params as { id: string }).id)
    if (!found) throw notFound('Schema')
    return found
  })

  app.get('/Users', async (request) => {
    const q = request.query as Record<string, unknown>
    const page = pageOf(q, max)
    const filter = typeof q.filter === 'string' && q.filter.trim() ? q.filter : undefined
    const { total, resources } = await users.list(auth(request).organizationId, { filter, ...page })
    return listResponse(total, page.startIndex, resources)
  })
  app.get('/Users/:id', async (request) => {
    const found = await users.get(auth(request).organizationId, (request.params as { id: string }).id)
    if (!found) throw notFound('User')
    return found
  })
  app.post('/Users', async (request, reply) => {
    const created = await users.create(auth(request).organizationId, request.body, meta(request))
    return reply.code(201).header('location', (created.meta as { location: string }).location).send(created)
  })
  app.put('/Users/:id', async (request) => users.replace(auth(request).organizationId, (request.params as { id: string }).id, request.body, meta(request)))
  app.patch('/Users/:id', async (request) => users.patch(auth(request).organizationId, (request.params as { id: string }).id, patchOps(request.body), meta(request)))
  app.delete('/Users/:id', async (request, reply) => {
    await users.delete(auth(request).organizationId, (request.params as { id: string }).id, meta(request))
    return reply.code(204).send()
  })

  app.get('/Groups', async (request) => {
    const q = request.query as Record<string, unknown>
    const page = pageOf(q, max)
    const filter = typeof q.filter === 'string' && q.filter.trim() ? q.filter : undefined
    const excluded = typeof q.excludedAttributes === 'string' ? q.excludedAttributes.toLowerCase().split(',').map((s) => s.trim()) : []
    const { total, resources } = await groups.list(auth(request).organizationId, { filter, ...page, withMembers: !excluded.includes('members') })
    return listResponse(total, page.startIndex, resources)
  })
  app.get('/Groups/:id', async (request) => {
    const q = request.query as Record<string, unknown>
    const excluded = typeof q.excludedAttributes === 'string' ? q.excludedAttributes.toLowerCase().split(',').map((s) => s.trim()) : []
    const found = await groups.get(auth(request).organizationId, (request.params as { id: string }).id, !excluded.includes('members'))
    if (!found) throw notFound('Group')
    return found
  })
  app.post('/Groups', async (request, reply) => {
    const created = await groups.create(auth(request).organizationId, request.body, meta(request))
    return reply.code(201).header('location', (created.meta as { location: string }).location).send(created)
  })
  app.put('/Groups/:id', async (request) => groups.replace(auth(request).organizationId, (request.params as { id: string }).id, request.body, meta(request)))
  app.patch('/Groups/:id', async (request, reply) => {
    const updated = await groups.patch(auth(request).organizationId, (request.params as { id: string }).id, patchOps(request.body), meta(request))
    return reply.send(updated)
  })
  app.delete('/Groups/:id', async (request, reply) => {
    await groups.delete(auth(request).organizationId, (request.params as { id: string }).id, meta(request))
    return reply.code(204).send()
  })
}
