import type { FastifyInstance } from 'fastify'
import { notFound } from '../../identity/identity-errors.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { accessOf, actorOf, organizationOf } from '../request-access.js'
import { displayName, idParams, listOf, organization, responses, uuid } from '../schemas.js'

const tags = ['organizations']
const nameBody = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: displayName } } as const
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: { name: displayName } } as const
const created = { ...organization, required: [...organization.required, 'defaultProjectId'], properties: { ...organization.properties, defaultProjectId: uuid } } as const

/** Organizations: list mine, create, get, rename. */
export function registerOrganizationRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route({
    method: 'GET',
    url: '/v1/organizations',
    exposeHeadRoute: false,
    config: rule({ kind: 'none' }, 'viewer'),
    schema: { tags, summary: 'Organizations I can act on (an API key: its own)', response: responses({ 200: listOf(organization) }) },
    handler: async (request) => {
      const { principal, role } = accessOf(request)
      const all = await deps.identity.listOrganizationsForUser(principal.userId)
      // A session signed in to one organization (organizationOnly) acts there only, like a key.
      if (principal.kind === 'session' && !principal.organizationOnly) return { data: all }
      return { data: all.filter((o) => o.id === principal.organizationId).map((o) => ({ ...o, role })) }
    },
  })

  app.route<{ Body: { name: string } }>({
    method: 'POST',
    url: '/v1/organizations',
    exposeHeadRoute: false,
    config: rule({ kind: 'none' }, 'member'),
    schema: { tags, summary: 'Create an organization (I become its owner)', body: nameBody, response: responses({ 201: created }) },
    handler: async (request, reply) => {
      const actor = actorOf(request)
      const org = await deps.identity.createOrganization({ name: request.body.name.trim(), ownerUserId: actor.userId }, actor)
      const view = await deps.identity.getOrganization(org.id)
      return reply.code(201).send({ ...view, role: 'owner', defaultProjectId: org.defaultProjectId })
    },
  })

  app.route<{ Params: { organizationId: string } }>({
    method: 'GET',
    url: '/v1/organizations/:organizationId',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'viewer'),
    schema: { tags, summary: 'An organization', params: idParams('organizationId'), response: responses({ 200: organization }) },
    handler: async (request) => {
      const org = await deps.identity.getOrganization(organizationOf(request))
      if (!org) throw notFound('Organization')
      return { ...org, role: accessOf(request).role }
    },
  })

  app.route<{ Params: { organizationId: string }; Body: { name?: string } }>({
    method: 'PATCH',
    url: '/v1/organizations/:organizationId',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'admin'),
    schema: { tags, summary: 'Rename an organization', params: idParams('organizationId'), body: patchBody, response: responses({ 200: organization }) },
    handler: async (request) => {
      const org = await deps.identity.updateOrganization(organizationOf(request), { name: request.body.name?.trim() }, actorOf(request))
      return { ...org, role: accessOf(request).role }
    },
  })
}
