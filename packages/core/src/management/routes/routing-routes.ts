import type { FastifyInstance } from 'fastify'
import { TollgateError } from '../../errors/tollgate-error.js'
import { attributesSchema, deploymentIdSchema, deploymentInputSchema, rateLimitsSchema, routingPolicySchema } from '../../routing/routing-policy.js'
import type { ProviderInput } from '../../routing/routing-store.js'
import { type DeploymentInput, deploymentFrom, type RoutingPolicy } from '../../routing/routing-types.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { accessOf, actorOf } from '../request-access.js'
import { idParams, listOf, noContent, providerName, responses } from '../schemas.js'

const tags = ['routing']

const providerParams = { type: 'object', required: ['providerId'], additionalProperties: false, properties: { providerId: providerName } } as const
const modelParams = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } as const
const deploymentParams = {
  type: 'object',
  required: ['name', 'deploymentId'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, deploymentId: deploymentIdSchema },
} as const

const providerBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { enum: ['openai', 'anthropic', 'mock'] },
    baseUrl: { type: 'string', pattern: '^https?://', maxLength: 2000 },
    headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 }, maxProperties: 50 },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: { connectMs: { type: 'integer', minimum: 1 }, headersMs: { type: 'integer', minimum: 1 }, bodyIdleMs: { type: 'integer', minimum: 1 } },
    },
    enabled: { type: 'boolean' },
    apiKey: { anyOf: [{ type: 'string', minLength: 8, maxLength: 4096, pattern: '^\\S+$' }, { type: 'null' }], description: 'Absent keeps the stored key; null removes it' },
    attributes: attributesSchema,
    region: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' },
    limits: rateLimitsSchema,
  },
} as const

const limitsView = { type: 'object', properties: { rpm: { type: 'integer' }, tpm: { type: 'integer' } } } as const
const stringList = { type: 'array', items: { type: 'string' } } as const

const providerView = {
  type: 'object',
  required: ['id', 'kind', 'enabled', 'attributes', 'limits', 'hasKey', 'source'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    baseUrl: { type: 'string' },
    enabled: { type: 'boolean' },
    attributes: stringList,
    region: { type: 'string' },
    limits: limitsView,
    hasKey: { type: 'boolean' },
    keyHint: { type: 'string' },
    source: { type: 'string', enum: ['config', 'database', 'config+database'] },
  },
} as const

const deploymentView = {
  type: 'object',
  required: ['id', 'model', 'provider', 'upstreamModel', 'weight', 'priority', 'attributes', 'limits', 'enabled', 'implicit', 'effectiveAttributes'],
  properties: {
    id: { type: 'string' },
    model: { type: 'string' },
    provider: { type: 'string' },
    upstreamModel: { type: 'string' },
    baseUrl: { type: 'string' },
    region: { type: 'string' },
    weight: { type: 'integer' },
    priority: { type: 'integer' },
    attributes: stringList,
    limits: limitsView,
    enabled: { type: 'boolean' },
    attemptTimeoutMs: { type: 'integer' },
    implicit: { type: 'boolean' },
    effectiveAttributes: stringList,
    effectiveRegion: { type: 'string' },
    health: { type: 'object', properties: { state: { type: 'string' }, consecutiveFailures: { type: 'integer' }, retryAt: { type: 'string' } } },
  },
} as const

const policyView = {
  type: 'object',
  required: ['policy', 'effective'],
  properties: {
    policy: { type: 'object', additionalProperties: true, description: 'The policy stored at this level' },
    effective: { type: 'object', additionalProperties: true, description: 'The policy in effect here: every level merged, defaults filled' },
  },
} as const

const inProject = (minRole: 'developer' | 'admin') => rule({ kind: 'resource', resource: 'project', param: 'projectId' }, minRole)
const inOrganization = (minRole: 'viewer' | 'admin') => rule({ kind: 'organization', param: 'organizationId' }, minRole)

/**
 * Providers (platform administrators: enable, keys, compliance attributes, region, limits),
 * deployments of catalog models (platform administrators), and routing policies: global
 * (platform administrators), per organization and per project (owners and admins).
 */
export function registerRoutingRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  const routing = deps.routing

  app.route({
    method: 'GET',
    url: '/v1/providers',
    exposeHeadRoute: false,
    config: rule({ kind: 'none' }, 'viewer'),
    schema: { tags, summary: 'Providers with their state, compliance attributes, region and limits (key hints for platform administrators only)', response: responses({ 200: listOf(providerView) }) },
    handler: async (request) => {
      const admin = accessOf(request).principal.platformAdmin
      return { data: routing.listProviders().map((p) => (admin ? p : { ...p, keyHint: undefined })) }
    },
  })

  app.route<{ Params: { providerId: string }; Body: ProviderInput }>({
    method: 'PUT',
    url: '/v1/providers/:providerId',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: {
      tags,
      summary: 'Set a provider’s stored settings, or define a provider (with kind and baseUrl); absent fields inherit the gateway config',
      params: providerParams,
      body: providerBody,
      response: responses({ 200: providerView }),
    },
    handler: async (request) => routing.putProvider(request.params.providerId, request.body, actorOf(request)),
  })

  app.route<{ Params: { providerId: string } }>({
    method: 'DELETE',
    url: '/v1/providers/:providerId',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: { tags, summary: 'Remove a provider’s stored settings (a configured provider returns to its config)', params: providerParams, response: responses(noContent) },
    handler: async (request, reply) => {
      await routing.deleteProvider(request.params.providerId, actorOf(request))
      return reply.code(204).send()
    },
  })

  app.route<{ Params: { name: string } }>({
    method: 'GET',
    url: '/v1/catalog/models/:name/deployments',
    exposeHeadRoute: false,
    config: rule({ kind: 'none' }, 'viewer'),
    schema: { tags, summary: 'Deployments of a model, with their circuit state on this instance', params: modelParams, response: responses({ 200: listOf(deploymentView) }) },
    handler: async (request) => ({ data: routing.listDeployments(request.params.name) }),
  })

  app.route<{ Params: { name: string; deploymentId: string }; Body: DeploymentInput }>({
    method: 'PUT',
    url: '/v1/catalog/models/:name/deployments/:deploymentId',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: { tags, summary: 'Create or replace a deployment of a model (platform administrators)', params: deploymentParams, body: deploymentInputSchema, response: responses({ 200: deploymentView }) },
    handler: async (request) => {
      const model = deps.catalog.get(request.params.name)
      if (!model) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `Model "${request.params.name}" is not in the catalog`)
      return routing.putDeployment(deploymentFrom(request.params.deploymentId, model.name, request.body, model.upstreamModel), actorOf(request))
    },
  })

  app.route<{ Params: { name: string; deploymentId: string } }>({
    method: 'DELETE',
    url: '/v1/catalog/models/:name/deployments/:deploymentId',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: { tags, summary: 'Remove a deployment (platform administrators)', params: deploymentParams, response: responses(noContent) },
    handler: async (request, reply) => {
      await routing.deleteDeployment(request.params.name, request.params.deploymentId, actorOf(request))
      return reply.code(204).send()
    },
  })

  app.route({
    method: 'GET',
    url: '/v1/routing/policy',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'viewer'),
    schema: { tags, summary: 'The global routing policy (config with stored overrides)', response: responses({ 200: policyView }) },
    handler: async () => routing.policyView('global', undefined),
  })

  app.route<{ Body: RoutingPolicy }>({
    method: 'PUT',
    url: '/v1/routing/policy',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: { tags, summary: 'Replace the stored global routing policy (fields left out come from the config)', body: routingPolicySchema, response: responses({ 200: policyView }) },
    handler: async (request) => {
      await routing.putPolicy('global', undefined, undefined, request.body, actorOf(request))
      return routing.policyView('global', undefined)
    },
  })

  app.route({
    method: 'DELETE',
    url: '/v1/routing/policy',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: { tags, summary: 'Remove the stored global routing policy (the config’s applies)', response: responses(noContent) },
    handler: async (request, reply) => {
      await routing.deletePolicy('global', undefined, undefined, actorOf(request))
      return reply.code(204).send()
    },
  })

  app.route<{ Params: { organizationId: string } }>({
    method: 'GET',
    url: '/v1/organizations/:organizationId/routing-policy',
    exposeHeadRoute: false,
    config: inOrganization('viewer'),
    schema: { tags, summary: 'The organization’s routing policy and the policy in effect for it', params: idParams('organizationId'), response: responses({ 200: policyView }) },
    handler: async (request) => routing.policyView('organization', request.params.organizationId),
  })

  app.route<{ Params: { organizationId: string }; Body: RoutingPolicy }>({
    method: 'PUT',
    url: '/v1/organizations/:organizationId/routing-policy',
    exposeHeadRoute: false,
    config: inOrganization('admin'),
    schema: { tags, summary: 'Replace the organization’s routing policy (compliance requirements apply to every project)', params: idParams('organizationId'), body: routingPolicySchema, response: responses({ 200: policyView }) },
    handler: async (request) => {
      const id = request.params.organizationId
      await routing.putPolicy('organization', id, id, request.body, actorOf(request))
      return routing.policyView('organization', id)
    },
  })

  app.route<{ Params: { organizationId: string } }>({
    method: 'DELETE',
    url: '/v1/organizations/:organizationId/routing-policy',
    exposeHeadRoute: false,
    config: inOrganization('admin'),
    schema: { tags, summary: 'Remove the organization’s routing policy (idempotent)', params: idParams('organizationId'), response: responses(noContent) },
    handler: async (request, reply) => {
      const id = request.params.organizationId
      await routing.deletePolicy('organization', id, id, actorOf(request))
      return reply.code(204).send()
    },
  })

  app.route<{ Params: { projectId: string } }>({
    method: 'GET',
    url: '/v1/projects/:projectId/routing-policy',
    exposeHeadRoute: false,
    config: inProject('developer'),
    schema: { tags, summary: 'The project’s routing override and the policy in effect for it', params: idParams('projectId'), response: responses({ 200: policyView }) },
    handler: async (request) => routing.policyView('project', request.params.projectId, request.organizationId),
  })

  app.route<{ Params: { projectId: string }; Body: RoutingPolicy }>({
    method: 'PUT',
    url: '/v1/projects/:projectId/routing-policy',
    exposeHeadRoute: false,
    config: inProject('admin'),
    schema: { tags, summary: 'Replace the project’s routing override (region, provider order, fallbacks, cost ceiling, limits, added compliance)', params: idParams('projectId'), body: routingPolicySchema, response: responses({ 200: policyView }) },
    handler: async (request) => {
      await routing.putPolicy('project', request.params.projectId, request.organizationId, request.body, actorOf(request))
      return routing.policyView('project', request.params.projectId, request.organizationId)
    },
  })

  app.route<{ Params: { projectId: string } }>({
    method: 'DELETE',
    url: '/v1/projects/:projectId/routing-policy',
    exposeHeadRoute: false,
    config: inProject('admin'),
    schema: { tags, summary: 'Remove the project’s routing override (idempotent)', params: idParams('projectId'), response: responses(noContent) },
    handler: async (request, reply) => {
      await routing.deletePolicy('project', request.params.projectId, request.organizationId, actorOf(request))
      return reply.code(204).send()
    },
  })
}
