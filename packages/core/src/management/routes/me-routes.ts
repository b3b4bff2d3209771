import type { FastifyInstance } from 'fastify'
import { TollgateError } from '../../errors/tollgate-error.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { accessOf } from '../request-access.js'
import { responses, role, uuid } from '../schemas.js'

const me = {
  type: 'object',
  required: ['user', 'kind', 'organizationId', 'projectId', 'role', 'projectIds', 'apiKey'],
  properties: {
    user: {
      type: 'object',
      required: ['id', 'email', 'name', 'platformAdmin'],
      properties: { id: uuid, email: { type: 'string' }, name: { type: ['string', 'null'] }, platformAdmin: { type: 'boolean' } },
    },
    kind: { type: 'string', enum: ['api_key', 'session'] },
    organizationId: uuid,
    projectId: { type: ['string', 'null'], format: 'uuid' },
    role,
    projectIds: { type: 'array', items: uuid },
    apiKey: {
      type: ['object', 'null'],
      required: ['id', 'prefix', 'name'],
      properties: { id: uuid, prefix: { type: 'string' }, name: { type: 'string' } },
    },
  },
} as const

/** GET /v1/me: the caller, their organization and role. */
export function registerMeRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route({
    method: 'GET',
    url: '/v1/me',
    exposeHeadRoute: false,
    config: rule({ kind: 'none' }, 'viewer'),
    schema: { tags: ['me'], summary: 'The caller: user, organization, role and key', response: responses({ 200: me }) },
    handler: async (request) => {
      const { principal, role, projectIds } = accessOf(request)
      const user = await deps.identity.getUser(principal.userId)
      if (!user) throw new TollgateError('TOLLGATE_ERR_AUTH_INVALID_KEY', 'The user of this credential no longer exists')
      return {
        user: { id: user.id, email: user.email, name: user.name, platformAdmin: user.platformAdmin },
        kind: principal.kind,
        organizationId: principal.organizationId,
        projectId: principal.projectId ?? null,
        role,
        projectIds: projectIds ?? [],
        apiKey: principal.apiKeyId ? { id: principal.apiKeyId, prefix: principal.apiKeyPrefix ?? '', name: principal.apiKeyName ?? '' } : null,
      }
    },
  })
}
