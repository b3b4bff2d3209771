import { randomBytes, randomUUID } from 'node:crypto'
import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import pino, { type Logger } from 'pino'
import type { Dispatcher } from 'undici'
import { ModelCatalog, modelFromConfig } from './catalog/model-catalog.js'
import { type GatewayConfig, gatewayConfigSchema } from './config/gateway-config.js'
import type { Principal } from './context/principal.js'
import { CORE_ENTITIES } from './data/entities.js'
import { type Database, migrateDatabase, openDatabase, pendingMigrations } from './data/database.js'
import { CORE_MIGRATIONS } from './data/migrations/index.js'
import { TollgateError } from './errors/tollgate-error.js'
import { EventBus } from './events/event-bus.js'
import './events/core-events.js'
import { ApiKeyAuthenticator } from './identity/api-key-authenticator.js'
import { IdentityService, type InvitationSender, LoggingInvitationSender } from './identity/identity-service.js'
import { registerManagementRoutes } from './management/management-routes.js'
import { MetricsRegistry } from './metrics/metrics-registry.js'
import { REDACT_PATHS } from './observability/access-log.js'
import { type GatewayObservability, installObservability } from './observability/gateway-observability.js'
import { HookRunner } from './pipeline/hook-runner.js'
import { InflightTracker } from './pipeline/inflight.js'
import { ProxyPipeline } from './pipeline/proxy-pipeline.js'
import { createPluginHost } from './plugin/create-plugin-host.js'
import type { PluginInstance } from './plugin/define-plugin.js'
import { HookRegistry } from './plugin/hook-registry.js'
import { resolvePlugins } from './plugin/load-plugins.js'
import { ServiceRegistry } from './plugin/services.js'
import { ProviderRegistry } from './providers/provider-registry.js'
import { ProviderKeyCipher } from './identity/provider-key-cipher.js'
import { RoutingService } from './routing/routing-service.js'
import { deploymentFrom } from './routing/routing-types.js'
import { credentialFrom } from './server/credentials.js'
import { installErrorHandling } from './server/error-handler.js'
import './server/fastify-types.js'
import { registerHealthRoutes } from './server/health-routes.js'
import { installJsonBodyParser } from './server/json-body-parser.js'
import { registerProxyRoutes } from './server/proxy-routes.js'
import { shutdownStep } from './server/shutdown-step.js'
import { CoreExtensions, CoreServices } from './services/core-services.js'
import { createAjv, describeAjvErrors } from './util/ajv.js'
import { UsageEventReader } from './usage/usage-reader.js'
import { UsageWriter } from './usage/usage-writer.js'
import { WorkerRunner } from './workers/worker-runner.js'

/** Everything createGateway takes: the serialisable config plus code-level options. */
export interface GatewayOptions extends GatewayConfig {
  /** Plugins, each called with its config: `guardrails({...})`. */
  plugins?: PluginInstance<any>[]
  /** A pino logger (default: pino at level info, or silent under NODE_ENV=test). */
  logger?: Logger
  /** undici dispatcher for upstream calls (tests, proxies). */
  dispatcher?: Dispatcher
  /** Delivers invitation emails (default: logs the link). */
  invitationSender?: InvitationSender
}

/** A running (or ready-to-listen) gateway. */
export interface Gateway {
  readonly app: FastifyInstance
  readonly db: Database
  readonly log: Logger
  readonly identity: IdentityService
  readonly catalog: ModelCatalog
  readonly services: ServiceRegistry
  readonly events: EventBus
  readonly metrics: MetricsRegistry
  /** URL of the metrics listener when `metrics.port` gives it its own (set by `listen`). */
  readonly metricsUrl?: string
  readonly usageWriter: UsageWriter
  readonly usage: UsageEventReader
  readonly workers: WorkerRunner
  readonly providers: ProviderRegistry
  /** Routing: policies, deployments, circuit breakers and rate limits. */
  readonly routing: RoutingService
  /** Starts listening; returns the base URL. */
  listen(options?: { port?: number; host?: string }): Promise<string>
  /** Runs pending migrations; returns the names applied. */
  migrate(): Promise<string[]>
  /** Graceful shutdown: refuse new requests, drain in-flight ones and streams, run onClose hooks, flush writers, close pools and the database. */
  close(): Promise<void>
}

const validateConfig = createAjv({ useDefaults: false }).compile(gatewayConfigSchema)

/** Checks a gateway config against its schema; throws TOLLGATE_ERR_CONFIG_INVALID naming the path. */
export function validateGatewayConfig(config: GatewayConfig): void {
  if (!validateConfig(config)) {
    const { path, message } = describeAjvErrors(validateConfig.errors, 'config')
    throw new TollgateError('TOLLGATE_ERR_CONFIG_INVALID', message, { field: path })
  }
}

function encryptionKeyFrom(config: GatewayConfig, log: Logger): Buffer {
  const text = config.security?.providerKeyEncryptionKey
  if (text) {
    const key = Buffer.from(text, 'base64')
    if (key.length !== 32) throw new TollgateError('TOLLGATE_ERR_CONFIG_INVALID', 'config.security.providerKeyEncryptionKey must be 32 bytes, base64-encoded', { field: 'config.security.providerKeyEncryptionKey' })
    return key
  }
  log.warn('no security.providerKeyEncryptionKey configured: provider keys stored now cannot be read after a restart')
  return randomBytes(32)
}

/** Builds a gateway: validates config and plugins, opens the database, runs migrations, wires routes and plugins. */
export async function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const { plugins = [], logger, dispatcher, invitationSender, ...config } = options
  validateGatewayConfig(config)
  const log = logger ?? pino({ level: process.env.NODE_ENV === 'test' ? 'silent' : 'info', redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' } })
  const resolved = resolvePlugins(plugins)
  const models = (config.models ?? []).map((m, i) => {
    try {
      return modelFromConfig(m, `config.models[${i}].prices`)
    } catch (err) {
      throw new TollgateError('TOLLGATE_ERR_CONFIG_INVALID', (err as Error).message, { field: `config.models[${i}]` })
    }
  })
  const encryptionKey = encryptionKeyFrom(config, log)

  const entities = [...CORE_ENTITIES, ...resolved.flatMap((p) => p.definition.entities ?? [])]
  const migrations = [...CORE_MIGRATIONS, ...resolved.flatMap((p) => p.definition.migrations ?? [])]
  const db = await openDatabase(config.database ?? {}, entities, migrations, log)
  let closed = false
  try {
    if (config.database?.migrate !== false) await migrateDatabase(db)
    else {
      const pending = await pendingMigrations(db)
      if (pending.length > 0) {
        throw new TollgateError('TOLLGATE_ERR_CONFIG_INVALID', `The database has ${pending.length} pending migration(s) (${pending.join(', ')}) and config.database.migrate is false: run "tollgate migrate" first`, { field: 'config.database.migrate' })
      }
    }

    const server = config.server ?? {}
    const app = Fastify({
      logger: false,
      bodyLimit: server.bodyLimitBytes ?? 4 * 1024 * 1024,
      genReqId: () => randomUUID(),
      requestIdHeader: false,
      trustProxy: server.trustProxy ?? false,
      keepAliveTimeout: server.keepAliveTimeoutMs ?? 72_000,
      requestTimeout: server.requestTimeoutMs ?? 0,
      connectionTimeout: 0,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      ajv: { customOptions: { allErrors: false, coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
    })
    app.server.headersTimeout = server.headersTimeoutMs ?? 10_000
    // Node checks the headers timeout only every connectionsCheckingInterval (30 s by default, read
    // when listening starts): without this, a slowloris client keeps its socket for half a minute.
    ;(app.server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(app.server.headersTimeout / 4)))
    installJsonBodyParser(app, server.maxJsonDepth ?? 64)
    installErrorHandling(app, log)

    const events = new EventBus(log)
    const metrics = new MetricsRegistry({ defaultMetrics: config.metrics?.defaultMetrics ?? false })
    const services = new ServiceRegistry()
    const hooks = new HookRegistry()
    const workers = new WorkerRunner(db, log)
    const usage = new UsageEventReader(db)
    const usageWriter = new UsageWriter(db, events, log, config.usage)
    const apiKeys = new ApiKeyAuthenticator(db, log, { cacheTtlMs: config.security?.apiKeyCacheTtlMs })
    const catalog = new ModelCatalog(db)
    await catalog.seed(models)
    await catalog.start()
    const providers = new ProviderRegistry(config.providers ?? [], { dispatcher })
    const routing = new RoutingService({
      db,
      catalog,
      registry: providers,
      events,
      cipher: new ProviderKeyCipher(encryptionKey),
      configProviders: config.providers ?? [],
      configPolicy: config.routing?.policy,
      configDeployments: (config.routing?.deployments ?? []).map(({ id, model, ...rest }) => deploymentFrom(id, model, rest, catalog.get(model)?.upstreamModel ?? model)),
      log,
    })
    await routing.start(config.routing?.refreshMs)
    const identity = new IdentityService({
      db,
      events,
      apiKeys,
      encryptionKey,
      invitationSender: invitationSender ?? new LoggingInvitationSender(log),
      invitations: { acceptUrl: config.invitations?.acceptUrl ?? 'http://localhost:8080/invitations/accept', ttlDays: config.invitations?.ttlDays ?? 7 },
      log,
    })
    const inflight = new InflightTracker()
    const observability: GatewayObservability = installObservability({ app, log, metrics, hooks, usageWriter, inflight, knownModel: (name) => catalog.get(name) !== undefined }, config)

    services.provide(CoreServices.database, db)
    services.provide(CoreServices.catalog, catalog)
    services.provide(CoreServices.apiKeys, apiKeys)
    services.provide(CoreServices.identity, identity)
    services.provide(CoreServices.providers, providers)
    services.provide(CoreServices.routing, routing)
    services.provide(CoreServices.usageWriter, usageWriter)

    /** API key first, then any authenticator a plugin added (sessions). */
    const authenticate = async (request: FastifyRequest): Promise<Principal | undefined> => {
      const secret = credentialFrom(request.headers)
      if (secret) {
        const p = await apiKeys.authenticate(secret)
        if (p) return p
      }
      for (const auth of services.extensions(CoreExtensions.authenticators)) {
        const p = await auth(request)
        if (p) return p
      }
      return undefined
    }

    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Tollgate management API', version: '0.1.0', description: 'Organizations, projects, members, invitations, API keys, provider keys and the model catalog.' },
        components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
        security: [{ apiKey: [] }],
      },
    })
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

    const pipeline = new ProxyPipeline({
      hooks: new HookRunner(hooks),
      apiKeys,
      catalog,
      providerKeysOf: (projectId) => identity.providerKeysOf(projectId),
      routing,
      usageWriter,
      inflight,
      log,
      onFinished: (ctx) => observability.finished(ctx),
    })
    registerProxyRoutes(app, pipeline, catalog)
    registerHealthRoutes(app, db, inflight)
    await app.register(async (scope) => registerManagementRoutes(scope, { identity, catalog, events, authenticate, routing }))

    const gatewayConfig = Object.freeze(structuredClone(config)) as Record<string, unknown>
    for (const plugin of resolved) {
      const host = createPluginHost(plugin.definition.id, { app, log, hooks, services, events, metrics, workers, db, usage, gatewayConfig, authenticate })
      try {
        await plugin.definition.register(host, plugin.config)
      } catch (err) {
        if (err instanceof TollgateError) throw err
        throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${plugin.definition.id}" failed to register: ${(err as Error).message}`, { cause: err })
      }
    }
    observability.pluginsRegistered()
    await app.ready()
    for (const h of hooks.list('onReady')) await h.fn()
    workers.start()

    let metricsUrl: string | undefined
    const gateway: Gateway = {
      get metricsUrl() {
        return metricsUrl
      },
      app,
      db,
      log,
      identity,
      catalog,
      services,
      events,
      metrics,
      usageWriter,
      usage,
      workers,
      providers,
      routing,
      async listen({ port = 8080, host = '127.0.0.1' } = {}) {
        const url = await app.listen({ port, host })
        metricsUrl = await observability.listen()
        return url
      },
      migrate: () => migrateDatabase(db),
      async close() {
        if (closed) return
        closed = true
        inflight.draining = true
        const closing = app.close()
        if (!(await inflight.drained(server.drainTimeoutMs ?? 30_000))) {
          log.warn({ inflight: inflight.count }, 'drain timeout: closing the remaining connections')
          app.server.closeAllConnections()
        }
        // Every step is bounded, so a stop signal always ends in a stopped gateway: a step that
        // hangs is named, abandoned, and its stuck queries end with the database pool.
        const bounded = { giveUpAfterMs: server.closeStepTimeoutMs ?? 30_000 }
        await shutdownStep(log, 'the HTTP server', () => closing, bounded)
        for (const h of [...hooks.list('onClose')].reverse()) {
          try {
            await shutdownStep(log, `the onClose hook of plugin ${h.pluginId}`, h.fn, bounded)
          } catch (err) {
            log.error({ err, plugin: h.pluginId }, 'onClose hook failed')
          }
        }
        await shutdownStep(log, 'background worker runs', () => workers.stop(), bounded)
        catalog.stop()
        routing.stop()
        await shutdownStep(log, 'the usage event writer', () => usageWriter.close(), bounded)
        await shutdownStep(log, 'the metrics server', () => observability.close(), bounded)
        await shutdownStep(log, 'API key last-used times', () => apiKeys.close(), bounded)
        await shutdownStep(log, 'upstream connection pools', () => providers.close(), bounded)
        await shutdownStep(log, 'the database pool', () => db.close({ endConnectionsAfterMs: bounded.giveUpAfterMs }))
      },
    }
    return gateway
  } catch (err) {
    if (!closed) await db.close().catch(() => undefined)
    throw err
  }
}
