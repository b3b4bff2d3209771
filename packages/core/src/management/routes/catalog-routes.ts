import type { FastifyInstance } from 'fastify'
import { type CatalogModel, type ModelConfig, type ModelPrices, modelFromConfig } from '../../catalog/model-catalog.js'
import { TollgateError } from '../../errors/tollgate-error.js'
import { notFound } from '../../identity/identity-errors.js'
import { formatPricePerMillion } from '../../util/money.js'
import { type ManagementDeps, rule } from '../management-deps.js'
import { actorOf } from '../request-access.js'
import { catalogModel, listOf, noContent, prices, responses } from '../schemas.js'

const tags = ['catalog']
const nameParams = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } as const
const putBody = {
  type: 'object',
  required: ['provider'],
  additionalProperties: false,
  properties: {
    provider: { type: 'string', minLength: 1, maxLength: 64 },
    upstreamModel: { type: 'string', minLength: 1, maxLength: 200 },
    available: { type: 'boolean' },
    prices: { ...prices, description: 'USD per million tokens, decimal strings' },
    marketPrices: { ...prices, description: 'The market rate (defaults to prices), for savings' },
    contextWindow: { type: 'integer', minimum: 1 },
    maxOutputTokens: { type: 'integer', minimum: 1 },
  },
} as const

function pricesView(p: ModelPrices) {
  return { input: formatPricePerMillion(p.input), output: formatPricePerMillion(p.output), cachedRead: formatPricePerMillion(p.cachedRead), cacheWrite: formatPricePerMillion(p.cacheWrite) }
}

/** A catalog model with prices as exact decimal strings (USD per million tokens). */
export function catalogModelView(m: CatalogModel) {
  return {
    name: m.name,
    provider: m.provider,
    upstreamModel: m.upstreamModel,
    available: m.available,
    prices: pricesView(m.prices),
    marketPrices: pricesView(m.marketPrices),
    ...(m.contextWindow !== undefined ? { contextWindow: m.contextWindow } : {}),
    ...(m.maxOutputTokens !== undefined ? { maxOutputTokens: m.maxOutputTokens } : {}),
  }
}

/** The model catalog: everyone reads it; platform administrators edit it. */
export function registerCatalogRoutes(app: FastifyInstance, deps: ManagementDeps): void {
  app.route({
    method: 'GET',
    url: '/v1/catalog/models',
    exposeHeadRoute: false,
    config: rule({ kind: 'none' }, 'viewer'),
    schema: { tags, summary: 'Catalog models with prices (USD per million tokens)', response: responses({ 200: listOf(catalogModel) }) },
    handler: async () => ({ data: deps.catalog.list().map(catalogModelView) }),
  })

  app.route<{ Params: { name: string }; Body: Omit<ModelConfig, 'name'> }>({
    method: 'PUT',
    url: '/v1/catalog/models/:name',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: { tags, summary: 'Create or replace a catalog model (platform administrators)', params: nameParams, body: putBody, response: responses({ 200: catalogModel }) },
    handler: async (request) => {
      let model: CatalogModel
      try {
        model = modelFromConfig({ ...request.body, name: request.params.name }, 'body')
      } catch (err) {
        throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', (err as Error).message, { field: (err as Error).message.split(':')[0] })
      }
      const before = deps.catalog.get(model.name)
      await deps.catalog.upsert(model, { onWritten: (em) => emitModelUpdated(deps, request, model.name, before, model, em) })
      return catalogModelView(deps.catalog.get(model.name) ?? model)
    },
  })

  app.route<{ Params: { name: string } }>({
    method: 'DELETE',
    url: '/v1/catalog/models/:name',
    exposeHeadRoute: false,
    config: rule({ kind: 'platform' }, 'admin'),
    schema: { tags, summary: 'Remove a catalog model (platform administrators)', params: nameParams, response: responses(noContent) },
    handler: async (request, reply) => {
      const before = deps.catalog.get(request.params.name)
      if (!before) throw notFound('Model')
      await deps.catalog.remove(before.name, { onWritten: (em) => emitModelUpdated(deps, request, before.name, before, undefined, em) })
      return reply.code(204).send()
    },
  })
}

/** Emits model.updated inside the catalog write's transaction (`em`), so an audit entry commits with the change. */
async function emitModelUpdated(deps: ManagementDeps, request: Parameters<typeof actorOf>[0], name: string, before: CatalogModel | undefined, after: CatalogModel | undefined, em: unknown): Promise<void> {
  const actor = actorOf(request)
  await deps.events.emit(
    'model.updated',
    { model: name, before: before ? catalogModelView(before) : undefined, after: after ? catalogModelView(after) : undefined },
    { actor: actor.apiKeyId ? { type: 'api_key', id: actor.apiKeyId } : { type: 'user', id: actor.userId }, ip: actor.ip, userAgent: actor.userAgent, em },
  )
}
