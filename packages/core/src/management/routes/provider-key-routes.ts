import type { FastifyInstance } from 'fastify'
import { type ManagementDeps, rule } from '../management-deps.js'
import { actorOf } from '../request-access.js'
import { idParams, listOf, noContent, providerKey, providerName, responses, uuid } from '../schemas.js'

const tags = ['provider-keys']
const keyParams = { type: 'object', required: ['projectId', 'provider'], additionalProperties: false, properties: { projectId: uuid, provider: providerName } } as const
const putBody = {
  type: 'object',
  required: ['key'],
  additionalProperties: false,
  properties: { key: { type: 'string', minLength: 8, maxLength: 4096, pattern: '^\\S+$' }, label: { type: 'string', minLength: 1, maxLength: 200 } },
} as const
const inProject = (minRole: 'developer' | 'admin') => rule({ kind: 'resource', resource: 'project', param: 'projectId' }, minRole)

/** A project's own provider keys (bring your own key): set or replace, list hints, delete. */
export function registerProviderKeyRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route<{ Params: { projectId: string } }>({
    method: 'GET',
    url: '/v1/projects/:projectId/provider-keys',
    exposeHeadRoute: false,
    config: inProject('developer'),
    schema: { tags, summary: "A project's provider keys (hints only, never secrets)", params: idParams('projectId'), response: responses({ 200: listOf(providerKey) }) },
    handler: async (request) => ({ data: await deps.identity.listProviderKeys(request.params.projectId) }),
  })

  app.route<{ Params: { projectId: string; provider: string }; Body: { key: string; label?: string } }>({
    method: 'PUT',
    url: '/v1/projects/:projectId/provider-keys/:provider',
    exposeHeadRoute: false,
    config: inProject('admin'),
    schema: { tags, summary: "Set or replace the project's key for a provider (stored encrypted)", params: keyParams, body: putBody, response: responses({ 200: providerKey }) },
    handler: async (request) => {
      const actor = actorOf(request)
      return deps.identity.setProviderKey({ projectId: request.params.projectId, provider: request.params.provider, key: request.body.key, label: request.body.label, createdBy: actor.userId }, actor)
    },
  })

  app.route<{ Params: { projectId: string; provider: string } }>({
    method: 'DELETE',
    url: '/v1/projects/:projectId/provider-keys/:provider',
    exposeHeadRoute: false,
    config: inProject('admin'),
    schema: { tags, summary: "Delete the project's key for a provider", params: keyParams, response: responses(noContent) },
    handler: async (request, reply) => {
      await deps.identity.deleteProviderKey(request.params.projectId, request.params.provider, actorOf(request))
      return reply.code(204).send()
    },
  })
}
