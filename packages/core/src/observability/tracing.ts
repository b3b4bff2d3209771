import { createRequire } from 'node:module'
import { type Attributes, type Context, SpanKind, SpanStatusCode, type Tracer, propagation, ProxyTracerProvider, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import type { RequestContext } from '../context/request-context.js'
import type { HookName } from '../plugin/hooks.js'
import { routeLabel } from './label-values.js'

/** Options of tracing (`tracing` in the gateway config). */
export interface TracingOptions {
  /** Emit spans when the host registered an OpenTelemetry SDK (default true; without an SDK tracing costs nothing either way). */
  enabled?: boolean
}

/** One hook run kept for its span: which, when it ended (performance.now()), how long, whether it threw. */
interface HookRun {
  pluginId: string
  hook: HookName
  end: number
  ms: number
  failed: boolean
}

const coreVersion = (createRequire(import.meta.url)('../../package.json') as { version: string }).version

/** The tracer provider that stands in while no SDK is registered (the API's no-op). */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate()

/** `gen_ai.provider.name` values of the semantic conventions, by adapter kind. */
const GEN_AI_PROVIDER: Record<string, string> = { openai: 'openai', anthropic: 'anthropic' }

/** Header getter for W3C trace context extraction from Node's lower-cased header object. */
const headerGetter = {
  get(carrier: Readonly<Record<string, string | string[] | undefined>>, key: string) {
    return carrier[key]
  },
  keys(carrier: Readonly<Record<string, string | string[] | undefined>>) {
    return Object.keys(carrier)
  },
}

/**
 * OpenTelemetry spans through `@opentelemetry/api`: one SERVER span per proxied request, a child
 * per plugin hook run and a CLIENT child for the upstream call, with the GenAI semantic-convention
 * attributes. Spans are built when the request has finished, from the timings the pipeline keeps
 * (start times are given explicitly), so the request path pays nothing: while no SDK is
 * registered the only per-request work is one provider check, and hook runs are not even kept.
 * An incoming `traceparent` header (with the SDK's propagator) makes the request span its child.
 */
export class RequestTracer {
  readonly #enabled: boolean
  readonly #hookRuns = new WeakMap<RequestContext, HookRun[]>()

  constructor(options: TracingOptions = {}) {
    this.#enabled = options.enabled ?? true
  }

  /** True when spans would be recorded: tracing on and a real tracer provider registered. */
  get active(): boolean {
    if (!this.#enabled) return false
    const provider = trace.getTracerProvider()
    return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER
  }

  /** Keeps a request hook's run for its span (the HookRegistry observer); nothing while inactive. */
  hook(pluginId: string, hook: HookName, durationMs: number, failed: boolean, ctx?: RequestContext): void {
    if (!ctx || !this.active) return
    const run: HookRun = { pluginId, hook, end: performance.now(), ms: durationMs, failed }
    const runs = this.#hookRuns.get(ctx)
    if (runs) runs.push(run)
    else this.#hookRuns.set(ctx, [run])
  }

  /** Emits the spans of a finished request (after onComplete, off the client's path). */
  finish(ctx: RequestContext): void {
    const runs = this.#hookRuns.get(ctx)
    this.#hookRuns.delete(ctx)
    if (!this.active) return
    // Looked up per traced request, not once: a tracer taken before the host registered its SDK
    // (or through another copy of the API) would stay a no-op for good.
    const tracer: Tracer = trace.getTracer('@tollgate/core', coreVersion)
    const origin = performance.timeOrigin
    const t = ctx.timings
    const end = t.end ?? performance.now()
    const request = ctx.request as RequestContext['request'] | undefined
    const operation = 'chat'
    const providerName = ctx.route ? (GEN_AI_PROVIDER[ctx.route.providerKind] ?? ctx.route.provider) : undefined
    const parent: Context = ctx.headers ? propagation.extract(ROOT_CONTEXT, ctx.headers, headerGetter) : ROOT_CONTEXT

    const attributes: Attributes = {
      'gen_ai.operation.name': operation,
      'http.request.method': 'POST',
      'http.route': routeLabel(ctx.protocol),
      'tollgate.request_id': ctx.id,
      'tollgate.outcome': ctx.outcome ?? 'error',
    }
    if (ctx.status !== undefined) attributes['http.response.status_code'] = ctx.status
    if (request?.model) attributes['gen_ai.request.model'] = request.model
    if (request) {
      attributes['tollgate.stream'] = request.stream
      if (request.maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = request.maxTokens
      if (request.temperature !== undefined) attributes['gen_ai.request.temperature'] = request.temperature
      if (request.topP !== undefined) attributes['gen_ai.request.top_p'] = request.topP
    }
    if (providerName) {
      attributes['gen_ai.provider.name'] = providerName
      // The older attribute name, still read by many backends.
      attributes['gen_ai.system'] = providerName
    }
    const responseModel = ctx.response?.model ?? ctx.route?.upstreamModel
    if (responseModel) attributes['gen_ai.response.model'] = responseModel
    if (ctx.response?.id) attributes['gen_ai.response.id'] = ctx.response.id
    const finish = ctx.response?.choices.map((c) => c.finishReason).filter((r): r is NonNullable<typeof r> => r !== null)
    if (finish && finish.length > 0) attributes['gen_ai.response.finish_reasons'] = finish
    if (ctx.usage) {
      attributes['gen_ai.usage.input_tokens'] = ctx.usage.inputTokens
      attributes['gen_ai.usage.output_tokens'] = ctx.usage.outputTokens
      if (ctx.usage.cachedReadTokens > 0) attributes['gen_ai.usage.cache_read.input_tokens'] = ctx.usage.cachedReadTokens
      if (ctx.usage.cacheWriteTokens > 0) attributes['gen_ai.usage.cache_creation.input_tokens'] = ctx.usage.cacheWriteTokens
    }
    const p = ctx.principal as RequestContext['principal'] | undefined
    if (p?.organizationId) attributes['tollgate.organization_id'] = p.organizationId
    if (p?.projectId) attributes['tollgate.project_id'] = p.projectId
    if (ctx.error) attributes['error.type'] = ctx.error.code
    if (t.firstByte !== undefined && request?.stream) attributes['tollgate.time_to_first_token_ms'] = t.firstByte - t.start

    const name = request?.model ? `${operation} ${request.model}` : operation
    const root = tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: origin + t.start, attributes }, parent)
    for (const attempt of ctx.failedAttempts) {
      root.addEvent('tollgate.upstream.attempt_failed', { 'gen_ai.provider.name': attempt.provider, 'gen_ai.request.model': attempt.model, 'error.type': attempt.code, ...(attempt.status !== undefined ? { 'http.response.status_code': attempt.status } : {}) })
    }
    const inRoot = trace.setSpan(ROOT_CONTEXT, root)

    if (runs) {
      for (const run of runs) {
        const span = tracer.startSpan(
          `hook ${run.pluginId}.${run.hook}`,
          { kind: SpanKind.INTERNAL, startTime: origin + run.end - run.ms, attributes: { 'tollgate.plugin': run.pluginId, 'tollgate.hook': run.hook } },
          inRoot,
        )
        if (run.failed) span.setStatus({ code: SpanStatusCode.ERROR })
        span.end(origin + run.end)
      }
    }

    if (ctx.route && t.upstreamStart !== undefined) {
      const upstreamEnd = request?.stream ? end : (t.upstreamHeaders ?? end)
      const upstreamAttrs: Attributes = {
        'gen_ai.operation.name': operation,
        'gen_ai.request.model': ctx.route.upstreamModel,
        'tollgate.provider': ctx.route.provider,
        'tollgate.attempt': ctx.route.attempt,
      }
      if (providerName) {
        upstreamAttrs['gen_ai.provider.name'] = providerName
        upstreamAttrs['gen_ai.system'] = providerName
      }
      if (responseModel) upstreamAttrs['gen_ai.response.model'] = responseModel
      if (ctx.usage) {
        upstreamAttrs['gen_ai.usage.input_tokens'] = ctx.usage.inputTokens
        upstreamAttrs['gen_ai.usage.output_tokens'] = ctx.usage.outputTokens
      }
      if (ctx.upstreamStatus !== undefined) upstreamAttrs['http.response.status_code'] = ctx.upstreamStatus
      const upstream = tracer.startSpan(`${operation} ${ctx.route.upstreamModel}`, { kind: SpanKind.CLIENT, startTime: origin + t.upstreamStart, attributes: upstreamAttrs }, inRoot)
      if (ctx.error?.code.startsWith('TOLLGATE_ERR_UPSTREAM_')) {
        upstream.setAttribute('error.type', ctx.error.code)
        upstream.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error.message })
      }
      upstream.end(origin + upstreamEnd)
    }

    // Server spans mark only server-side failures as errors (a 4xx is the client's; error.type still names it).
    if ((ctx.status ?? 0) >= 500) root.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error?.message })
    root.end(origin + end)
  }
}
