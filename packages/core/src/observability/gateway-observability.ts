import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { RequestContext } from '../context/request-context.js'
import type { MetricsRegistry } from '../metrics/metrics-registry.js'
import type { HookRegistry } from '../plugin/hook-registry.js'
import { AccessLog, type AccessLogOptions } from './access-log.js'
import { GatewayMetrics } from './gateway-metrics.js'
import { type MetricsEndpointOptions, type MetricsServer, registerMetricsRoute, startMetricsServer } from './metrics-endpoint.js'
import { RequestTracer, type TracingOptions } from './tracing.js'

/** The observability parts of the gateway config. */
export interface ObservabilityConfig {
  metrics?: MetricsEndpointOptions & { defaultMetrics?: boolean; maxModelLabels?: number }
  accessLog?: AccessLogOptions
  tracing?: TracingOptions
}

/** What observability hooks into. */
export interface ObservabilityDeps {
  app: FastifyInstance
  log: Logger
  metrics: MetricsRegistry
  hooks: HookRegistry
  usageWriter: { readonly queueDepth: number; onFlush?: (count: number, seconds: number, failed: boolean) => void }
  inflight: { readonly count: number; readonly streams: number }
  knownModel: (name: string) => boolean
}

/** The gateway's observability: metrics, access log and traces, wired to the app, hooks and writer. */
export interface GatewayObservability {
  readonly metrics: GatewayMetrics
  readonly tracer: RequestTracer
  /** Feeds a finished proxied request to metrics, access log and traces (the pipeline's onFinished). */
  finished(ctx: RequestContext): void
  /** After every plugin registered: declares the plugin metrics nobody registered. */
  pluginsRegistered(): void
  /** Starts the metrics listener when it has its own port; returns its URL. */
  listen(): Promise<string | undefined>
  close(): Promise<void>
}

/**
 * Installs metrics, the access log and tracing on a gateway being built: the `/metrics` route
 * (or its own listener), an onResponse hook counting every HTTP response, the hook and usage
 * writer observers. Everything per request runs after the response, except the response counter.
 */
export function installObservability(d: ObservabilityDeps, config: ObservabilityConfig): GatewayObservability {
  const metrics = new GatewayMetrics(d.metrics, { inflight: d.inflight, usageWriter: d.usageWriter, knownModel: d.knownModel, maxModelLabels: config.metrics?.maxModelLabels })
  const tracer = new RequestTracer(config.tracing)
  const accessLog = config.accessLog?.enabled === false ? undefined : new AccessLog(d.log, config.accessLog)
  const previousObserver = d.hooks.observer
  d.hooks.observer = (pluginId, hook, ms, failed, ctx) => {
    previousObserver?.(pluginId, hook, ms, failed, ctx)
    metrics.hook(pluginId, hook, ms, failed)
    tracer.hook(pluginId, hook, ms, failed, ctx)
  }
  const previousFlush = d.usageWriter.onFlush
  d.usageWriter.onFlush = (count, seconds, failed) => {
    previousFlush?.(count, seconds, failed)
    metrics.flush(count, seconds, failed)
  }
  d.app.addHook('onResponse', (request, reply, done) => {
    metrics.httpResponse(request.method, request.routeOptions.url, reply.statusCode)
    done()
  })
  registerMetricsRoute(d.app, d.metrics, config.metrics ?? {})
  let server: MetricsServer | undefined
  return {
    metrics,
    tracer,
    finished(ctx) {
      try {
        metrics.request(ctx)
        accessLog?.write(ctx)
        tracer.finish(ctx)
      } catch (err) {
        d.log.error({ err, reqId: ctx.id }, 'recording a finished request failed')
      }
    },
    pluginsRegistered() {
      const filled = metrics.declarePluginMetrics()
      if (filled.length > 0) d.log.debug({ metrics: filled }, 'declared plugin metrics with no plugin counting them')
    },
    async listen() {
      const options = config.metrics ?? {}
      if (options.endpoint === false || options.port === undefined || server) return server?.url
      server = await startMetricsServer(d.metrics, options)
      return server.url
    },
    async close() {
      await server?.close()
      server = undefined
    },
  }
}
