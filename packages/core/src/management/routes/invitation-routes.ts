import type { FastifyInstance } from 'fastify'
import type { Role } from '../../context/principal.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { accessOf, actorOf, organizationOf } from '../request-access.js'
import { idParams, invitation, listOf, noContent, responses, role, uuid } from '../schemas.js'

const tags = ['invitations']
const createBody = {
  type: 'object',
  required: ['email', 'role'],
  additionalProperties: false,
  properties: { email: { type: 'string', format: 'email', maxLength: 320 }, role, projectIds: { type: 'array', items: uuid, maxItems: 1000, description: 'Projects of a developer' } },
} as const
const created = { ...invitation, required: [...invitation.required, 'delivered'], properties: { ...invitation.properties, delivered: { type: 'boolean' } } } as const
const acceptBody = { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: 200 } } } as const
const accepted = {
  type: 'object',
  required: ['organizationId', 'role', 'projectIds'],
  properties: { organizationId: uuid, role, projectIds: { type: 'array', items: uuid } },
} as const

/** Invitations: create (the link goes to the invitation sender), list, revoke, accept. */
export function registerInvitationRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route<{ Params: { organizationId: string }; Body: { email: string; role: Role; projectIds?: string[] } }>({
    method: 'POST',
    url: '/v1/organizations/:organizationId/invitations',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'admin'),
    schema: { tags, summary: 'Invite someone by email (role never above your own)', params: idParams('organizationId'), body: createBody, response: responses({ 201: created }) },
    handler: async (request, reply) => {
      const actor = actorOf(request)
      const result = await deps.identity.createInvitation({ organizationId: organizationOf(request), ...request.body, invitedBy: actor.userId }, actor)
      return reply.code(201).send({ ...result.invitation, delivered: result.delivered })
    },
  })

  app.route<{ Params: { organizationId: string } }>({
    method: 'GET',
    url: '/v1/organizations/:organizationId/invitations',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'admin'),
    schema: { tags, summary: "An organization's invitations, newest first", params: idParams('organizationId'), response: responses({ 200: listOf(invitation) }) },
    handler: async (request) => ({ data: await deps.identity.listInvitations(organizationOf(request)) }),
  })

  app.route<{ Params: { invitationId: string } }>({
    method: 'DELETE',
    url: '/v1/invitations/:invitationId',
    exposeHeadRoute: false,
    config: rule({ kind: 'resource', resource: 'invitation', param: 'invitationId' }, 'admin'),
    schema: { tags, summary: 'Revoke a pending invitation', params: idParams('invitationId'), response: responses(noContent) },
    handler: async (request, reply) => {
      await deps.identity.revokeInvitation(request.params.invitationId, actorOf(request))
      return reply.code(204).send()
    },
  })

  app.route<{ Body: { token: string } }>({
    method: 'POST',
    url: '/v1/invitations/accept',
    exposeHeadRoute: false,
    config: rule({ kind: 'none' }, 'viewer'),
    schema: { tags, summary: 'Accept an invitation addressed to me', body: acceptBody, response: responses({ 200: accepted }) },
    handler: async (request) => {
      const { principal } = accessOf(request)
      return deps.identity.acceptInvitation(request.body.token, principal.userId, actorOf(request))
    },
  })
}
