import type { FastifyInstance } from 'fastify'
import { type Role, roleAtLeast } from '../../context/principal.js'
import { notFound } from '../../identity/identity-errors.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { accessOf, actorOf, organizationOf } from '../request-access.js'
import { apiKey, createdApiKey, displayName, idParams, listOf, noContent, responses, role, uuid } from '../schemas.js'

const tags = ['api-keys']
const createBody = {
  type: 'object',
  required: ['organizationId', 'projectId', 'name'],
  additionalProperties: false,
  properties: {
    organizationId: uuid,
    projectId: uuid,
    name: displayName,
    role: { ...role, description: "Defaults to, and may not exceed, the creator's role" },
    expiresAt: { type: 'string', format: 'date-time' },
    appName: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const
const listQuery = {
  type: 'object',
  required: ['organizationId'],
  additionalProperties: false,
  properties: {
    organizationId: uuid,
    projectId: uuid,
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'integer', minimum: 0, default: 0 },
  },
} as const

interface CreateBody {
  organizationId: string
  projectId: string
  name: string
  role?: Role
  expiresAt?: string
  appName?: string
}

/** API keys: create (secret shown once), list, get, revoke. Below admin, a member sees and revokes only their own keys. */
export function registerApiKeyRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route<{ Body: CreateBody }>({
    method: 'POST',
    url: '/v1/keys',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization-body', field: 'organizationId' }, 'developer'),
    schema: { tags, summary: 'Create an API key for a project (its role never exceeds mine)', body: createBody, response: responses({ 201: createdApiKey }) },
    handler: async (request, reply) => {
      const actor = actorOf(request)
      const { projectId, name, role: keyRole, expiresAt, appName } = request.body
      const key = await deps.identity.createApiKey(
        { organizationId: organizationOf(request), projectId, ownerUserId: actor.userId, name: name.trim(), role: keyRole, expiresAt: expiresAt ? new Date(expiresAt) : undefined, appName },
        actor,
      )
      return reply.code(201).header('cache-control', 'no-store').send(key)
    },
  })

  app.route<{ Querystring: { organizationId: string; projectId?: string; limit: number; offset: number } }>({
    method: 'GET',
    url: '/v1/keys',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization-query', query: 'organizationId' }, 'viewer'),
    schema: { tags, summary: "An organization's API keys (below admin: my own)", querystring: listQuery, response: responses({ 200: listOf(apiKey) }) },
    handler: async (request) => {
      const { principal, role: callerRole } = accessOf(request)
      const { projectId, limit, offset } = request.query
      const ownerUserId = roleAtLeast(callerRole, 'admin') ? undefined : principal.userId
      return { data: await deps.identity.listApiKeys(organizationOf(request), { ownerUserId, projectId, limit, offset }) }
    },
  })

  app.route<{ Params: { keyId: string } }>({
    method: 'GET',
    url: '/v1/keys/:keyId',
    exposeHeadRoute: false,
    config: rule({ kind: 'resource', resource: 'api_key', param: 'keyId' }, 'viewer'),
    schema: { tags, summary: 'An API key (never its secret)', params: idParams('keyId'), response: responses({ 200: apiKey }) },
    handler: async (request) => {
      const key = await deps.identity.getApiKey(request.params.keyId, actorOf(request))
      if (!key) throw notFound('API key')
      return key
    },
  })

  app.route<{ Params: { keyId: string } }>({
    method: 'DELETE',
    url: '/v1/keys/:keyId',
    exposeHeadRoute: false,
    config: rule({ kind: 'resource', resource: 'api_key', param: 'keyId' }, 'viewer'),
    schema: { tags, summary: 'Revoke an API key', params: idParams('keyId'), response: responses(noContent) },
    handler: async (request, reply) => {
      await deps.identity.revokeApiKey(request.params.keyId, actorOf(request))
      return reply.code(204).send()
    },
  })
}
