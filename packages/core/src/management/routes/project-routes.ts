import type { FastifyInstance } from 'fastify'
import { notFound } from '../../identity/identity-errors.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { accessOf, actorOf, organizationOf } from '../request-access.js'
import { displayName, idParams, listOf, noContent, project, responses } from '../schemas.js'

const tags = ['projects']
const nameBody = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: displayName } } as const
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: { name: displayName } } as const
const inProject = rule({ kind: 'resource', resource: 'project', param: 'projectId' }, 'viewer')

/** Projects: list and create in an organization, get, rename, delete. */
export function registerProjectRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route<{ Params: { organizationId: string } }>({
    method: 'GET',
    url: '/v1/organizations/:organizationId/projects',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'viewer'),
    schema: { tags, summary: "An organization's projects (a developer: their granted ones)", params: idParams('organizationId'), response: responses({ 200: listOf(project) }) },
    handler: async (request) => {
      const { role, projectIds } = accessOf(request)
      return { data: await deps.identity.listProjects(organizationOf(request), role === 'developer' ? (projectIds ?? []) : undefined) }
    },
  })

  app.route<{ Params: { organizationId: string }; Body: { name: string } }>({
    method: 'POST',
    url: '/v1/organizations/:organizationId/projects',
    exposeHeadRoute: false,
    config: rule({ kind: 'organization', param: 'organizationId' }, 'admin'),
    schema: { tags, summary: 'Create a project', params: idParams('organizationId'), body: nameBody, response: responses({ 201: project }) },
    handler: async (request, reply) => {
      const created = await deps.identity.createProject({ organizationId: organizationOf(request), name: request.body.name.trim() }, actorOf(request))
      return reply.code(201).send(created)
    },
  })

  app.route<{ Params: { projectId: string } }>({
    method: 'GET',
    url: '/v1/projects/:projectId',
    exposeHeadRoute: false,
    config: inProject,
    schema: { tags, summary: 'A project', params: idParams('projectId'), response: responses({ 200: project }) },
    handler: async (request) => {
      const found = await deps.identity.getProject(request.params.projectId)
      if (!found) throw notFound('Project')
      return found
    },
  })

  app.route<{ Params: { projectId: string }; Body: { name?: string } }>({
    method: 'PATCH',
    url: '/v1/projects/:projectId',
    exposeHeadRoute: false,
    config: rule({ kind: 'resource', resource: 'project', param: 'projectId' }, 'admin'),
    schema: { tags, summary: 'Rename a project', params: idParams('projectId'), body: patchBody, response: responses({ 200: project }) },
    handler: async (request) => deps.identity.updateProject(request.params.projectId, { name: request.body.name?.trim() }, actorOf(request)),
  })

  app.route<{ Params: { projectId: string } }>({
    method: 'DELETE',
    url: '/v1/projects/:projectId',
    exposeHeadRoute: false,
    config: rule({ kind: 'resource', resource: 'project', param: 'projectId' }, 'admin'),
    schema: { tags, summary: "Delete a project (its API keys stop working)", params: idParams('projectId'), response: responses(noContent) },
    handler: async (request, reply) => {
      await deps.identity.deleteProject(request.params.projectId, actorOf(request))
      return reply.code(204).send()
    },
  })
}
