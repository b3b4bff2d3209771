import type { FastifyInstance } from 'fastify'
import type { ModelCatalog } from '../catalog/model-catalog.js'
import type { ProxyPipeline } from '../pipeline/proxy-pipeline.js'
import { anthropicProtocol } from '../protocols/anthropic/anthropic-protocol.js'
import { openAIProtocol } from '../protocols/openai/openai-protocol.js'
import { sendError } from './error-handler.js'
import { isTollgateError, toTollgateError } from '../errors/tollgate-error.js'

/**
 * The proxy endpoints: OpenAI Chat Completions, Anthropic Messages, and the model list (answered
 * in a shape both SDKs read: OpenAI's `{object:'list', data:[{id, object:'model', …}]}` with
 * Anthropic's `type`, `display_name`, `created_at`, `has_more`, `first_id`, `last_id` beside it).
 * Bodies are validated by the protocol codecs (ajv, compiled once), not by fastify schemas, so
 * the error names the field in the client's own error shape.
 */
export function registerProxyRoutes(app: FastifyInstance, pipeline: ProxyPipeline, catalog: ModelCatalog): void {
  app.post('/v1/chat/completions', { config: { protocol: 'openai' } }, (request, reply) => pipeline.handle(openAIProtocol, request, reply))
  app.post('/v1/messages', { config: { protocol: 'anthropic' } }, (request, reply) => pipeline.handle(anthropicProtocol, request, reply))
  app.get('/v1/models', { config: { protocol: 'openai' } }, async (request, reply) => {
    try {
      await pipeline.authenticate(request)
    } catch (err) {
      if (isTollgateError(err)) return sendError(request, reply, err)
      return sendError(request, reply, toTollgateError(err))
    }
    const models = catalog.list().filter((m) => m.available)
    const created = Math.floor(Date.now() / 1000)
    const data = models.map((m) => ({
      id: m.name,
      object: 'model',
      created,
      owned_by: m.provider,
      type: 'model',
      display_name: m.name,
      created_at: new Date(created * 1000).toISOString(),
    }))
    return reply.send({ object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null })
  })
}
