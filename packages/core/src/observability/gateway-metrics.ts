import { createRequire } from 'node:module'
import type { Counter, Histogram } from 'prom-client'
import type { RequestContext } from '../context/request-context.js'
import type { MetricsRegistry } from '../metrics/metrics-registry.js'
import type { HookName } from '../plugin/hooks.js'
import { codeLabel, isUpstreamCode, ModelLabels, NONE, routeLabel, statusClass, upstreamErrorKind } from './label-values.js'
import { CORE_METRICS, type MetricDefinition, PLUGIN_METRICS } from './metric-catalog.js'
import { SeriesCounter, SeriesHistogram } from './series.js'

/** What the gateway metrics read at scrape time. */
export interface GatewayMetricsSources {
  inflight: { readonly count: number; readonly streams: number }
  usageWriter: { readonly queueDepth: number }
  /** Whether a model name is in the catalog (only catalog models become label values). */
  knownModel: (name: string) => boolean
  /** At most this many distinct model label values; the rest are `other` (default 100). */
  maxModelLabels?: number
}

const PICO_PER_MICRO = 1_000_000n
const TOKEN_TYPES = ['input', 'output', 'cached_read', 'cache_write'] as const

const coreVersion = (createRequire(import.meta.url)('../../package.json') as { version: string }).version

/**
 * Core's Prometheus metrics (see CORE_METRICS), fed from the end of each request (off the
 * client's path), from every hook run, from usage writer flushes, and read from the in-flight
 * tracker and the writer queue at scrape time.
 */
export class GatewayMetrics {
  readonly #requests: SeriesCounter
  readonly #duration: SeriesHistogram
  readonly #upstream: SeriesHistogram
  readonly #ttft: SeriesHistogram
  readonly #overhead: SeriesHistogram
  readonly #tokens: SeriesCounter
  readonly #cost: SeriesCounter
  readonly #marketCost: SeriesCounter
  readonly #upstreamErrors: Counter<string>
  readonly #rejections: Counter<string>
  readonly #rateLimited: Counter<string>
  readonly #http: SeriesCounter
  readonly #hooks: SeriesHistogram
  readonly #flushDuration: Histogram<string>
  readonly #flushed: Counter<string>
  readonly #models: ModelLabels
  readonly #registry: MetricsRegistry
  /** Picodollars below one microdollar, carried per series so the integer counters sum exactly. */
  readonly #remainders = new Map<string, bigint>()

  constructor(registry: MetricsRegistry, sources: GatewayMetricsSources) {
    this.#registry = registry
    this.#models = new ModelLabels(sources.maxModelLabels ?? 100, sources.knownModel)
    const counter = (d: MetricDefinition) => registry.counter({ name: d.name, help: d.help, labelNames: d.labels })
    const histogram = (d: MetricDefinition) => registry.histogram({ name: d.name, help: d.help, labelNames: d.labels, buckets: [...(d.buckets ?? [])] })
    // Per-request and per-hook metrics: the cheap series kind (see series.ts).
    const fastCounter = (d: MetricDefinition) => registry.collector(new SeriesCounter(d.name, d.help, d.labels))
    const fastHistogram = (d: MetricDefinition) => registry.collector(new SeriesHistogram(d.name, d.help, d.labels, d.buckets ?? []))
    const m = CORE_METRICS
    this.#requests = fastCounter(m.requests)
    this.#duration = fastHistogram(m.requestDuration)
    this.#upstream = fastHistogram(m.upstreamDuration)
    this.#ttft = fastHistogram(m.timeToFirstToken)
    this.#overhead = fastHistogram(m.overhead)
    this.#tokens = fastCounter(m.tokens)
    this.#cost = fastCounter(m.cost)
    this.#marketCost = fastCounter(m.marketCost)
    this.#upstreamErrors = counter(m.upstreamErrors)
    this.#rejections = counter(m.rejections)
    this.#rateLimited = counter(m.rateLimited)
    this.#http = fastCounter(m.httpResponses)
    this.#hooks = fastHistogram(m.hookDuration)
    this.#flushDuration = histogram(m.usageFlushDuration)
    this.#flushed = counter(m.usageFlushedEvents)
    registry.gauge({
      name: m.inflightRequests.name,
      help: m.inflightRequests.help,
      collect() {
        this.set(sources.inflight.count)
      },
    })
    registry.gauge({
      name: m.inflightStreams.name,
      help: m.inflightStreams.help,
      collect() {
        this.set(sources.inflight.streams)
      },
    })
    registry.gauge({
      name: m.usageQueue.name,
      help: m.usageQueue.help,
      collect() {
        this.set(sources.usageWriter.queueDepth)
      },
    })
    registry.gauge({ name: m.buildInfo.name, help: m.buildInfo.help, labelNames: m.buildInfo.labels }).set({ version: coreVersion, node: process.version }, 1)
  }

  /** Records a finished proxied request (called after onComplete, off the client's path). */
  request(ctx: RequestContext): void {
    const provider = ctx.route?.provider ?? NONE
    const model = this.#models.of(ctx)
    const route = routeLabel(ctx.protocol)
    const stream = ctx.request?.stream ? 'true' : 'false'
    const t = ctx.timings
    this.#requests.inc([provider, model, route, String(ctx.status ?? 0), ctx.outcome ?? 'error'])
    if (t.end !== undefined) this.#duration.observe([provider, model, route, stream], (t.end - t.start) / 1000)
    // A failed call has no response headers: its latency runs until the failure was handled.
    const upstreamEnd = t.upstreamHeaders ?? (ctx.outcome === 'upstream_error' ? t.end : undefined)
    const upstreamMs = t.upstreamStart !== undefined && upstreamEnd !== undefined ? upstreamEnd - t.upstreamStart : undefined
    if (upstreamMs !== undefined) this.#upstream.observe([provider, model, stream], upstreamMs / 1000)
    if (ctx.outcome === 'success' && upstreamMs !== undefined) {
      const toFirstByte = stream === 'true' ? t.firstByte : t.end
      if (toFirstByte !== undefined) this.#overhead.observe([route, stream], Math.max(0, toFirstByte - t.start - upstreamMs) / 1000)
    }
    if (stream === 'true' && t.firstByte !== undefined) this.#ttft.observe([provider, model], (t.firstByte - t.start) / 1000)
    const u = ctx.usage
    if (u) {
      const counts = [u.inputTokens, u.outputTokens, u.cachedReadTokens, u.cacheWriteTokens]
      for (let i = 0; i < TOKEN_TYPES.length; i++) if (counts[i] > 0) this.#tokens.inc([provider, model, TOKEN_TYPES[i]], counts[i])
    }
    if (ctx.cost) {
      this.#money(this.#cost, 'c', provider, model, ctx.cost.cost)
      this.#money(this.#marketCost, 'm', provider, model, ctx.cost.marketCost)
    }
    for (const attempt of ctx.failedAttempts) this.#upstreamErrors.inc({ provider: attempt.provider, kind: upstreamErrorKind(attempt.code) })
    const error = ctx.error
    if (error) {
      if (isUpstreamCode(error.code)) this.#upstreamErrors.inc({ provider, kind: upstreamErrorKind(error.code) })
      else {
        const code = codeLabel(error.code)
        this.#rejections.inc({ code })
        if (error.status === 429) this.#rateLimited.inc({ code })
      }
    }
  }

  /** Adds picodollars to an integer microdollar counter, carrying the sub-microdollar rest. */
  #money(counter: SeriesCounter, kind: string, provider: string, model: string, amount: bigint): void {
    if (amount <= 0n) return
    const key = `${kind}\u0000${provider}\u0000${model}`
    const total = (this.#remainders.get(key) ?? 0n) + amount
    const micro = total / PICO_PER_MICRO
    this.#remainders.set(key, total - micro * PICO_PER_MICRO)
    if (micro > 0n) counter.inc([provider, model], Number(micro))
  }

  /** Records one plugin hook run (the HookRegistry observer). */
  hook(pluginId: string, hook: HookName, durationMs: number, failed: boolean): void {
    this.#hooks.observe([pluginId, hook, failed ? 'failed' : 'ok'], durationMs / 1000)
  }

  /** Records a usage writer flush (the UsageWriter observer). */
  flush(count: number, seconds: number, failed: boolean): void {
    const outcome = failed ? 'failed' : 'ok'
    this.#flushDuration.observe({ outcome }, seconds)
    this.#flushed.inc({ outcome }, count)
  }

  /** Records any HTTP response by route template (404s without a route fold into one value). */
  httpResponse(method: string, routeTemplate: string | undefined, status: number): void {
    this.#http.inc([METHODS.has(method) ? method : 'OTHER', routeTemplate ?? 'unmatched', statusClass(status)])
  }

  /**
   * Registers the declared plugin metrics no plugin registered (after every plugin's `register`),
   * so dashboards and alert rules querying them stay valid on a gateway without that plugin.
   * Returns the names it filled in.
   */
  declarePluginMetrics(): string[] {
    const filled: string[] = []
    for (const d of Object.values(PLUGIN_METRICS)) {
      if (this.#registry.has(d.name)) continue
      this.#registry.counter({ name: d.name, help: `${d.help} (registered by the ${d.owner} plugin; not loaded here)`, labelNames: d.labels })
      filled.push(d.name)
    }
    return filled
  }
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])
