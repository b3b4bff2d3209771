import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Principal } from '../context/principal.js'
import type { Database } from '../data/database.js'
import { TollgateError } from '../errors/tollgate-error.js'
import type { EventBus } from '../events/event-bus.js'
import type { MetricsRegistry } from '../metrics/metrics-registry.js'
import { sendError } from '../server/error-handler.js'
import type { UsageEventReader } from '../usage/usage-reader.js'
import type { WorkerRunner } from '../workers/worker-runner.js'
import type { HookRegistry } from './hook-registry.js'
import type { PluginHost } from './plugin-host.js'
import type { ServiceRegistry } from './services.js'

/** What the gateway hands to createPluginHost. */
export interface PluginHostDeps {
  app: FastifyInstance
  log: Logger
  hooks: HookRegistry
  services: ServiceRegistry
  events: EventBus
  metrics: MetricsRegistry
  workers: WorkerRunner
  db: Database
  usage: UsageEventReader
  gatewayConfig: Record<string, unknown>
  authenticate: (request: FastifyRequest) => Promise<Principal | undefined>
}

/** Builds the host object a plugin's register receives, scoped to that plugin. */
export function createPluginHost(pluginId: string, d: PluginHostDeps): PluginHost {
  const log = d.log.child({ plugin: pluginId })
  return {
    pluginId,
    log,
    hooks: { add: (name, fn) => d.hooks.add(pluginId, name, fn) },
    routes(prefix, register, options = {}) {
      if (!prefix.startsWith('/')) throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${pluginId}": route prefix "${prefix}" must start with /`)
      const auth = options.auth ?? 'required'
      // Each plugin gets its own encapsulated fastify scope: its hooks and decorators stay inside.
      d.app.register(
        async (scope) => {
          if (auth === 'required') {
            scope.addHook('onRequest', async (request, reply) => {
              const principal = await d.authenticate(request)
              if (!principal) {
                return sendError(request, reply, new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Authentication required: send an API key or sign in'))
              }
              request.principal = principal
            })
          }
          await register(scope)
        },
        { prefix },
      )
    },
    services: {
      provide: (ref, value) => d.services.provide(ref, value as never, pluginId),
      get: (ref) => d.services.get(ref),
      find: (ref) => d.services.find(ref),
      extend: (point, value) => d.services.extend(point, value),
      extensions: (point) => d.services.extensions(point),
    },
    events: {
      on: (name, handler, options) => d.events.on(name, handler, { pluginId, ...options }),
      onAny: (handler, options) => d.events.onAny(handler, { pluginId, ...options }),
      emit: (name, payload, meta) => d.events.emit(name, payload, meta),
    },
    metrics: d.metrics,
    workers: { add: (worker) => d.workers.add(worker) },
    db: d.db,
    usage: d.usage,
    gatewayConfig: d.gatewayConfig,
  }
}
