import type { FastifyInstance } from 'fastify'
import type { Role } from '../../context/principal.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { actorOf, organizationOf } from '../request-access.js'
import { idParams, listOf, member, noContent, responses, role, uuid } from '../schemas.js'

const tags = ['members']
const memberParams = idParams('organizationId', 'userId')
const roleBody = {
  type: 'object',
  required: ['role'],
  additionalProperties: false,
  properties: { role, projectIds: { type: 'array', items: uuid, maxItems: 1000, description: 'Projects of a developer' } },
} as const

/** Members: list, change role (and developer grants), remove. */
export function registerMemberRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route<{ Params: { organizationId: string } }>({
    method: 'GET',
    url: '/v1/organizations/:organizationId/members',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'member'),
    schema: { tags, summary: "An organization's members", params: idParams('organizationId'), response: responses({ 200: listOf(member) }) },
    handler: async (request) => ({ data: await deps.identity.listMembers(organizationOf(request)) }),
  })

  app.route<{ Params: { organizationId: string; userId: string }; Body: { role: Role; projectIds?: string[] } }>({
    method: 'PATCH',
    url: '/v1/organizations/:organizationId/members/:userId',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'admin'),
    schema: {
      tags,
      summary: "Change a member's role (never above your own, never your own, never the last owner's)",
      params: memberParams,
      body: roleBody,
      response: responses({ 200: member }),
    },
    handler: async (request) => deps.identity.changeMemberRole(organizationOf(request), request.params.userId, request.body, actorOf(request)),
  })

  app.route<{ Params: { organizationId: string; userId: string } }>({
    method: 'DELETE',
    url: '/v1/organizations/:organizationId/members/:userId',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'admin'),
    schema: { tags, summary: 'Remove a member (their keys in the organization are revoked)', params: memberParams, response: responses(noContent) },
    handler: async (request, reply) => {
      await deps.identity.removeMember(organizationOf(request), request.params.userId, actorOf(request))
      return reply.code(204).send()
    },
  })
}
