import { createRequire } from 'node:module'
import type { Counter, Histogram } from 'prom-client'
import type { RequestContext } from '../context/request-context.js'
import type { MetricsRegistry } from '../metrics/metrics-registry.js'
import type { HookName } from '../plugin/hooks.js'
import { codeLabel, isUpstreamCode, ModelLabels, NONE, routeLabel, statusClass, upstreamErrorKind } from './label-values.js'
import { CORE_METRICS, type MetricDefinition, PLUGIN_METRICS } from './metric-catalog.js'
import { type CounterChild, type HistogramChild, SeriesCounter, SeriesHistogram } from './series.js'

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
  /** The hook duration series by plugin, hook and outcome. */
  readonly #hookSeries = new Map<string, Map<HookName, { ok?: HistogramChild; failed?: HistogramChild }>>()
  readonly #flushDuration: Histogram<string>
  readonly #flushed: Counter<string>
  readonly #models: ModelLabels
  readonly #registry: MetricsRegistry
  /** The series of each kind of request (provider, model, route, stream flag). */
  readonly #byRequestKind = new Map<string, RequestSeries>()
  /** The money counters of each provider and model, with the picodollars not yet counted. */
  readonly #moneyByModel = new Map<string, { cost: MoneySeries; marketCost: MoneySeries }>()

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
    const streamed = ctx.request?.stream === true
    const series = this.#requestSeries(provider, model, route, streamed)
    const t = ctx.timings
    series.requests(ctx.status ?? 0, ctx.outcome ?? 'error').inc()
    if (t.end !== undefined) series.duration.observe((t.end - t.start) / 1000)
    // A failed call has no response headers: its latency runs until the failure was handled.
    const upstreamEnd = t.upstreamHeaders ?? (ctx.outcome === 'upstream_error' ? t.end : undefined)
    const upstreamMs = t.upstreamStart !== undefined && upstreamEnd !== undefined ? upstreamEnd - t.upstreamStart : undefined
    if (upstreamMs !== undefined) series.upstream.observe(upstreamMs / 1000)
    if (ctx.outcome === 'success' && upstreamMs !== undefined) {
      const toFirstByte = streamed ? t.firstByte : t.end
      if (toFirstByte !== undefined) series.overhead.observe(Math.max(0, toFirstByte - t.start - upstreamMs) / 1000)
    }
    if (streamed && t.firstByte !== undefined) series.ttft.observe((t.firstByte - t.start) / 1000)
    const u = ctx.usage
    if (u) {
      if (u.inputTokens > 0) series.tokens[0].inc(u.inputTokens)
      if (u.outputTokens > 0) series.tokens[1].inc(u.outputTokens)
      if (u.cachedReadTokens > 0) series.tokens[2].inc(u.cachedReadTokens)
      if (u.cacheWriteTokens > 0) series.tokens[3].inc(u.cacheWriteTokens)
    }
    if (ctx.cost) {
      addMoney(series.cost, ctx.cost.cost)
      addMoney(series.marketCost, ctx.cost.marketCost)
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

  /**
   * The series a request of this provider, model, route and stream flag records into, made once
   * per combination (all four labels come from bounded sets). A request then costs one key and a
   * few handle calls instead of a label key built and hashed per series.
   */
  #requestSeries(provider: string, model: string, route: string, streamed: boolean): RequestSeries {
    const key = `${provider}\u0000${model}\u0000${route}\u0000${streamed}`
    let series = this.#byRequestKind.get(key)
    if (series) return series
    const stream = streamed ? 'true' : 'false'
    const byStatus = new Map<string, CounterChild>()
    const requests = this.#requests
    const modelKey = `${provider}\u0000${model}`
    let money = this.#moneyByModel.get(modelKey)
    if (!money) {
      money = { cost: { series: this.#cost.child([provider, model]), rest: 0n }, marketCost: { series: this.#marketCost.child([provider, model]), rest: 0n } }
      this.#moneyByModel.set(modelKey, money)
    }
    series = {
      requests(status, outcome) {
        const statusKey = `${status}\u0000${outcome}`
        let child = byStatus.get(statusKey)
        if (!child) {
          child = requests.child([provider, model, route, String(status), outcome])
          byStatus.set(statusKey, child)
        }
        return child
      },
      duration: this.#duration.child([provider, model, route, stream]),
      upstream: this.#upstream.child([provider, model, stream]),
      overhead: this.#overhead.child([route, stream]),
      ttft: this.#ttft.child([provider, model]),
      tokens: TOKEN_TYPES.map((type) => this.#tokens.child([provider, model, type])),
      cost: money.cost,
      marketCost: money.marketCost,
    }
    this.#byRequestKind.set(key, series)
    return series
  }

  /**
   * Records one plugin hook run (the HookRegistry observer). Runs once per hook and request, and
   * once per hook and chunk of a stream: the series is kept per plugin and hook, so a run costs two
   * map reads rather than a label key built and hashed.
   */
  hook(pluginId: string, hook: HookName, durationMs: number, failed: boolean): void {
    let byHook = this.#hookSeries.get(pluginId)
    if (!byHook) {
      byHook = new Map()
      this.#hookSeries.set(pluginId, byHook)
    }
    let outcomes = byHook.get(hook)
    if (!outcomes) {
      outcomes = {}
      byHook.set(hook, outcomes)
    }
    const outcome = failed ? 'failed' : 'ok'
    let series = outcomes[outcome]
    if (!series) {
      series = this.#hooks.child([pluginId, hook, outcome])
      outcomes[outcome] = series
    }
    series.observe(durationMs / 1000)
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

/** An integer microdollar counter and the picodollars below one microdollar it has not counted yet. */
interface MoneySeries {
  series: CounterChild
  rest: bigint
}

/** Adds picodollars to an integer microdollar counter, carrying the sub-microdollar rest so the counter sums exactly. */
function addMoney(money: MoneySeries, amount: bigint): void {
  if (amount <= 0n) return
  const total = money.rest + amount
  const micro = total / PICO_PER_MICRO
  money.rest = total - micro * PICO_PER_MICRO
  if (micro > 0n) money.series.inc(Number(micro))
}

/** What one kind of request records into (see GatewayMetrics.#requestSeries). */
interface RequestSeries {
  requests(status: number, outcome: string): CounterChild
  duration: HistogramChild
  upstream: HistogramChild
  overhead: HistogramChild
  ttft: HistogramChild
  /** By TOKEN_TYPES index. */
  tokens: CounterChild[]
  cost: MoneySeries
  marketCost: MoneySeries
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])
