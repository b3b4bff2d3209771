import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { computeCost, type ModelCatalog } from '../catalog/model-catalog.js'
import { DeferredChunk } from '../canonical/deferred-chunk.js'
import type { CanonicalRequest, ResponseChunk, StreamEvent, Usage } from '../canonical/types.js'
import { PluginState } from '../context/plugin-state.js'
import type { Principal } from '../context/principal.js'
import type { RequestContext } from '../context/request-context.js'
import { TollgateError, isTollgateError, toTollgateError } from '../errors/tollgate-error.js'
import type { ApiKeyAuthenticator } from '../identity/api-key-authenticator.js'
import type { ClientProtocol, StreamEncoder } from '../protocols/client-protocol.js'
import type { UpstreamResult } from '../providers/provider.js'
import type { LimitClaim } from '../routing/rate-limiter.js'
import type { RoutePlan } from '../routing/router.js'
import type { EffectivePolicy } from '../routing/routing-policy.js'
import type { RoutingService } from '../routing/routing-service.js'
import { credentialFrom } from '../server/credentials.js'
import { estimateInputTokens, estimateTextTokens } from '../usage/token-estimator.js'
import type { UsageWriter } from '../usage/usage-writer.js'
import { type AbortState, Cancellation } from '../util/cancellation.js'
import type { HookRunner } from './hook-runner.js'
import type { InflightTracker } from './inflight.js'
import { type AttemptSuccess, ClientGoneError, runAttempts } from './upstream-attempts.js'
import { mapUpstreamError } from './upstream-errors.js'
import { usageEventFrom } from './usage-event-builder.js'

/** What the pipeline needs from the gateway. */
export interface ProxyPipelineDeps {
  hooks: HookRunner
  apiKeys: ApiKeyAuthenticator
  catalog: ModelCatalog
  /** The project's own provider keys, by provider (bring your own key). */
  providerKeysOf: (projectId: string) => Promise<ReadonlyMap<string, string>>
  /** Routing: policies, deployments, breakers, rate limits. */
  routing: RoutingService
  usageWriter: UsageWriter
  inflight: InflightTracker
  log: Logger
  /** Observers of finished requests (metrics, access log). */
  onFinished?: (ctx: RequestContext) => void
}

/** Client headers passed upstream, per client protocol. */
const PASS_HEADERS: Record<string, readonly string[]> = {
  openai: [],
  anthropic: ['anthropic-version', 'anthropic-beta'],
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
}

/**
 * The request pipeline of the proxy endpoints: authenticate → decode → onAuthenticated →
 * route → beforeUpstream → upstream call → onUpstreamResponse → onResponse | onResponseChunk…
 * → send → onComplete (after the response, off the client's path) → usage event.
 */
export class ProxyPipeline {
  readonly #d: ProxyPipelineDeps

  constructor(deps: ProxyPipelineDeps) {
    this.#d = deps
  }

  /** Authenticates a request by API key (proxy endpoints). */
  async authenticate(request: FastifyRequest): Promise<Principal> {
    const secret = credentialFrom(request.headers)
    if (!secret) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'No API key: send it as "Authorization: Bearer <key>" or "x-api-key: <key>"')
    const principal = await this.#d.apiKeys.authenticate(secret)
    if (!principal) throw new TollgateError('TOLLGATE_ERR_AUTH_INVALID_KEY', 'The API key is invalid, revoked or expired')
    return principal
  }

  /** Handles one proxied request end to end. */
  async handle(protocol: ClientProtocol, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const d = this.#d
    const abort = new Cancellation()
    let log: Logger | undefined
    const ctx: RequestContext = {
      id: request.id,
      // The child logger is made on first use: most requests never log.
      get log() {
        log ??= d.log.child({ reqId: request.id })
        return log
      },
      protocol: protocol.protocol,
      principal: undefined as unknown as Principal,
      request: undefined as unknown as CanonicalRequest,
      failedAttempts: [],
      timings: { start: performance.now() },
      client: { ip: request.ip, userAgent: request.headers['user-agent'], appName: headerValue(request.headers['x-tollgate-app']) },
      headers: request.headers,
      state: new PluginState(),
      // A real AbortSignal only when a plugin reads it (see Cancellation).
      get signal() {
        return abort.signal
      },
    }
    const res = reply.raw
    const onClose = () => {
      if (!res.writableFinished) abort.abort()
    }
    res.once('close', onClose)
    d.inflight.enter()
    reply.header('x-request-id', ctx.id)
    let stream: StreamState | undefined
    let routed: Routed | undefined
    let attempt: AttemptSuccess | undefined
    try {
      if (d.inflight.draining) throw new TollgateError('TOLLGATE_ERR_SERVER_SHUTTING_DOWN', 'The gateway is shutting down; retry on another instance')
      ctx.principal = await this.authenticate(request)
      ctx.request = protocol.decodeRequest(request.body)
      // Hooks nobody registered cost nothing (no async step): the core-only path stays lean.
      if (d.hooks.has('onAuthenticated')) await d.hooks.run('onAuthenticated', ctx)
      routed = await this.#route(ctx)
      if (d.hooks.has('beforeUpstream')) await d.hooks.run('beforeUpstream', ctx)
      const passHeaders: Record<string, string> = {}
      for (const h of PASS_HEADERS[protocol.protocol]) {
        const v = headerValue(request.headers[h])
        if (v) passHeaders[h] = v
      }
      ctx.timings.upstreamStart = performance.now()
      try {
        attempt = await runAttempts({ ctx, request: ctx.request, candidates: routed.plan.candidates, policy: routed.policy, routing: d.routing, passHeaders, cancellation: abort, tokens: routed.tokens })
      } catch (err) {
        if (err instanceof ClientGoneError || abort.aborted) throw new AbortedError()
        if (isTollgateError(err) && err.code.startsWith('TOLLGATE_ERR_UPSTREAM')) ctx.outcome = 'upstream_error'
        throw err
      }
      const result = attempt.result
      ctx.timings.upstreamHeaders = performance.now()
      ctx.upstreamStatus = result.status
      if (result.kind === 'stream') {
        stream = { started: false, pending: '', flushScheduled: false, encoder: protocol.createStreamEncoder({ request: ctx.request, requestedModel: ctx.request.model, requestId: ctx.id }), output: [] }
        await this.#stream(ctx, protocol, result, attempt, reply, stream, abort)
      } else {
        if (d.hooks.has('onUpstreamResponse')) await d.hooks.upstreamResponse(ctx, { status: result.status, headers: result.headers, streaming: false })
        let response = result.response
        let modified = false
        if (d.hooks.has('onResponse')) ({ value: response, modified } = await d.hooks.response(ctx, response))
        ctx.response = response
        ctx.usage = response.usage ?? this.#estimate(ctx, response.choices.flatMap((c) => c.message.content.map((p) => (p.type === 'text' ? p.text : p.type === 'tool_call' ? p.arguments : ''))))
        const body = protocol.encodeResponse(response, { raw: result.raw, modified, requestedModel: ctx.request.model })
        ctx.status = 200
        ctx.outcome = 'success'
        ctx.timings.firstByte = performance.now()
        reply.code(200).header('content-type', 'application/json; charset=utf-8').send(body)
      }
    } catch (err) {
      if (err instanceof AbortedError || (abort.aborted && !isTollgateError(err))) {
        ctx.outcome = 'aborted'
        ctx.status = 499
      } else {
        const error = toTollgateError(err)
        if (!isTollgateError(err)) ctx.log.error({ err }, 'request failed')
        ctx.error = error
        ctx.outcome ??= ctx.principal ? (error.code.startsWith('TOLLGATE_ERR_UPSTREAM') ? 'upstream_error' : 'rejected') : 'rejected'
        ctx.status = error.status
        this.#sendError(ctx, protocol, reply, stream, error)
      }
    } finally {
      res.off('close', onClose)
      attempt?.dispose()
      if (abort.aborted && ctx.outcome !== 'success') {
        ctx.outcome = 'aborted'
        ctx.status = 499
        stream?.upstream?.cancel()
      } else if (ctx.outcome !== 'success' && attempt?.result.kind === 'stream') {
        // The answer was not streamed to its end (a hook refused it, or it broke): close its body.
        attempt.result.cancel()
      }
      ctx.timings.end = performance.now()
      if (ctx.principal && ctx.request && !ctx.usage && (stream || ctx.outcome === 'aborted')) {
        ctx.usage = this.#estimate(ctx, stream?.output ?? [])
      }
      if (ctx.usage && ctx.route) {
        const model = d.catalog.get(ctx.route.model)
        if (model) ctx.cost = computeCost(model, ctx.usage)
      }
      if (routed && (routed.clientClaims.length > 0 || (attempt && attempt.claims.length > 0))) this.#settleTokens(ctx, routed, attempt)
      d.inflight.leave()
      // onComplete never delays the client: it runs after the response is handed to the socket.
      setImmediate(() => void this.#complete(ctx))
    }
  }

  /**
   * Chooses where the request may go: the merged routing policy of its project, the project and
   * API key rate limits (429 with Retry-After), then the ordered deployments (the router throws
   * when none qualifies). ctx.route is the first choice until an attempt answers.
   */
  async #route(ctx: RequestContext): Promise<Routed> {
    const d = this.#d
    const model = d.catalog.get(ctx.request.model)
    if (!model) throw new TollgateError('TOLLGATE_ERR_MODEL_NOT_FOUND', `The model "${ctx.request.model}" does not exist in this gateway's catalog`, { field: 'model' })
    if (!model.available) throw new TollgateError('TOLLGATE_ERR_MODEL_UNAVAILABLE', `The model "${model.name}" is currently unavailable`, { field: 'model' })
    const routing = d.routing
    const principal = ctx.principal
    const policy = routing.policyFor(principal)
    const limits = policy.limits
    const tokenLimited =
      routing.table.hasTokenLimits || limits.project?.tpm !== undefined || limits.apiKey?.tpm !== undefined || (principal.apiKeyId !== undefined && limits.apiKeys?.[principal.apiKeyId]?.tpm !== undefined)
    const tokens = tokenLimited ? estimateInputTokens(ctx.request) + (ctx.request.maxTokens ?? 0) : 0
    const client = routing.clientClaims(principal, policy, tokens)
    if (client && !routing.limiter.tryTakeLocal(client.claims)) {
      const denied = await routing.limiter.take(client.claims)
      if (denied) {
        const what = denied.key.endsWith(':r') ? 'requests' : 'tokens'
        const code = client.codes[denied.key]
        const whose = code === 'TOLLGATE_ERR_RATELIMIT_PROJECT' ? 'project' : 'API key'
        throw new TollgateError(code, `The ${whose} is over its ${what} per minute limit; retry in ${denied.retryAfter} s`, { retryAfter: denied.retryAfter, headers: { 'retry-after': String(denied.retryAfter) } })
      }
    }
    const routed: Routed = { policy, plan: EMPTY_PLAN, tokens, clientClaims: client?.claims ?? NO_CLAIMS }
    const ownKeys = principal.projectId ? await d.providerKeysOf(principal.projectId) : undefined
    routed.plan = routing.router.plan({ model, policy, ownKeys, inputTokens: () => estimateInputTokens(ctx.request), maxTokens: ctx.request.maxTokens })
    const first = routed.plan.candidates[0]
    ctx.route = {
      model: first.model.name,
      provider: first.route.provider.id,
      providerKind: first.route.adapter.config.kind,
      upstreamModel: first.route.deployment.upstreamModel,
      attempt: 1,
      ownKey: first.ownKey !== undefined,
      deployment: first.route.deployment.id,
      ...(first.route.region ? { region: first.route.region } : {}),
    }
    return routed
  }

  /** Settles token-per-minute reservations with the actual usage (a refund, or a debt paid by the next lease). */
  #settleTokens(ctx: RequestContext, routed: Routed, attempt: AttemptSuccess | undefined): void {
    const limiter = this.#d.routing.limiter
    const actual = ctx.usage ? ctx.usage.inputTokens + ctx.usage.outputTokens : 0
    const delta = actual - routed.tokens
    if (delta === 0) return
    for (const claims of [routed.clientClaims, attempt?.claims ?? NO_CLAIMS]) {
      for (const c of claims) {
        if (!c.key.endsWith(':t')) continue
        if (delta > 0) limiter.charge(c.key, delta)
        else limiter.give(c.key, -delta)
      }
    }
  }

  async #stream(ctx: RequestContext, protocol: ClientProtocol, result: Extract<UpstreamResult, { kind: 'stream' }>, attempt: AttemptSuccess, reply: FastifyReply, s: StreamState, signal: AbortState): Promise<void> {
    const d = this.#d
    s.upstream = result
    if (d.hooks.has('onUpstreamResponse')) await d.hooks.upstreamResponse(ctx, { status: result.status, headers: result.headers, streaming: true })
    const sameProtocol = result.protocol === protocol.protocol
    const hasChunkHooks = d.hooks.has('onResponseChunk')
    d.inflight.streamStarted()
    try {
      try {
        // The first batch was read before the attempt counted as answered; the rest follows.
        const rest = attempt.rest!
        for (let batch = attempt.first; batch !== undefined; ) {
          if (signal.aborted) throw new AbortedError()
          // The chunks of one upstream read are handled in a plain loop; an await happens only
          // for chunk hooks and for back-pressure.
          for (const upstreamChunk of batch) {
            // A deferred chunk holds only content deltas (never usage): its JSON is left unparsed.
            if (!(upstreamChunk instanceof DeferredChunk)) {
              for (const ev of upstreamChunk.events) {
                if (ev.type === 'usage') ctx.usage = ev.usage
              }
            }
            let chunk: ResponseChunk = upstreamChunk
            let modified = false
            if (hasChunkHooks) ({ value: chunk, modified } = await d.hooks.chunk(ctx, upstreamChunk))
            keepOutput(s.output, chunk)
            const text = s.encoder.encode(chunk, sameProtocol && !modified)
            if (text) {
              const pending = this.#write(ctx, reply, s, text)
              if (pending) await pending
            }
          }
          const next = await rest.next()
          batch = next.done ? undefined : next.value
        }
      } catch (err) {
        // Whatever ended the loop early, the upstream body is closed (a finished body is unaffected).
        result.cancel()
        if (signal.aborted || err instanceof AbortedError) throw new AbortedError()
        if (isTollgateError(err)) throw err
        ctx.outcome = 'upstream_error'
        throw mapUpstreamError(err, ctx.route!.provider)
      }
      if (hasChunkHooks) {
        const { value: chunk } = await d.hooks.chunk(ctx, { events: [], last: true })
        keepOutput(s.output, chunk)
        const text = s.encoder.encode(chunk, false)
        if (text) await this.#write(ctx, reply, s, text)
      }
      if (!ctx.usage) ctx.usage = this.#estimate(ctx, s.output)
      ctx.status = 200
      ctx.outcome = 'success'
      await this.#write(ctx, reply, s, s.encoder.end(ctx.usage))
      endWithPending(s, reply.raw)
    } finally {
      d.inflight.streamEnded()
    }
  }

  /**
   * Queues SSE text for the client, sending the headers with the first byte (so failures before
   * it can still be a normal error response). Everything queued during one turn of the event loop
   * leaves in a single write (one HTTP chunk, one syscall) once that turn's I/O is handled: the
   * messages of one upstream read, and the end of the stream when the same read completed the
   * upstream body (then the whole answer goes out with its terminator in one write, where a flush
   * on the next tick cost a second write for `[DONE]`). The returned promise waits for the socket
   * to drain when the client reads slower than the upstream sends.
   */
  #write(ctx: RequestContext, reply: FastifyReply, s: StreamState, text: string): Promise<void> | undefined {
    const res = reply.raw
    if (!s.started) {
      s.started = true
      reply.hijack()
      res.writeHead(200, { ...SSE_HEADERS, 'x-request-id': ctx.id })
      ctx.timings.firstByte = performance.now()
    }
    if (res.destroyed) throw new AbortedError()
    s.pending += text
    if (!s.flushScheduled) {
      s.flushScheduled = true
      setImmediate(flushPending, s, res)
    }
    return s.drained
  }

  #sendError(ctx: RequestContext, protocol: ClientProtocol, reply: FastifyReply, s: StreamState | undefined, error: TollgateError): void {
    if (s?.started) {
      // Bytes already reached the client: end the stream with an error event in its protocol.
      const res = reply.raw
      if (!res.destroyed) {
        s.pending += s.encoder.error(error)
        endWithPending(s, res)
      }
      return
    }
    if (reply.sent) return
    if (error.headers) reply.headers(error.headers)
    reply.code(error.status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(protocol.errorBody(error, ctx.id)))
  }

  #estimate(ctx: RequestContext, output: StreamOutput): Usage {
    let out = 0
    for (const item of output) {
      if (typeof item === 'string') out += estimateTextTokens(item)
      else {
        // A chunk forwarded unparsed; one that is not valid JSON showed the client no text to count.
        const texts: string[] = []
        try {
          collectOutput(texts, item.events)
        } catch {}
        for (const t of texts) out += estimateTextTokens(t)
      }
    }
    return { inputTokens: estimateInputTokens(ctx.request), outputTokens: out, cachedReadTokens: 0, cacheWriteTokens: 0, estimated: true }
  }

  async #complete(ctx: RequestContext): Promise<void> {
    const d = this.#d
    try {
      const hooks = d.hooks
      if (ctx.outcome === 'aborted') {
        if (hooks.has('onAbort')) await hooks.observe('onAbort', ctx)
      } else if (ctx.error && hooks.has('onError')) await hooks.observe('onError', ctx, ctx.error)
      if (hooks.has('onComplete')) await hooks.observe('onComplete', ctx)
    } finally {
      const event = usageEventFrom(ctx)
      if (event) void d.usageWriter.add(event)
      d.onFinished?.(ctx)
    }
  }
}

interface StreamState {
  started: boolean
  /** SSE text queued for the next write. */
  pending: string
  flushScheduled: boolean
  /** Set while the socket is over its high-water mark: resolves on 'drain' (or rejects when the client is gone). */
  drained?: Promise<void>
  encoder: StreamEncoder
  /** Text and tool-call arguments sent so far, for estimating usage when the upstream never reports it. */
  output: StreamOutput
  upstream?: Extract<UpstreamResult, { kind: 'stream' }>
}

/** The routing decision of a request. */
interface Routed {
  policy: EffectivePolicy
  plan: RoutePlan
  /** Tokens reserved against token-per-minute limits (estimated input + max_tokens). */
  tokens: number
  /** Project and API key limits taken. */
  clientClaims: LimitClaim[]
}

const NO_CLAIMS: LimitClaim[] = []
const EMPTY_PLAN: RoutePlan = { candidates: [], excluded: [] }

/** Thrown internally when the client went away. */
class AbortedError extends Error {
  constructor() {
    super('client aborted')
    this.name = 'AbortedError'
  }
}

/** Writes what is queued as one chunk; on back-pressure, arms `drained` until the socket drains. */
function flushPending(s: StreamState, res: FastifyReply['raw']): void {
  s.flushScheduled = false
  if (s.pending.length === 0 || res.destroyed || res.writableEnded) return
  const text = s.pending
  s.pending = ''
  if (!res.write(text) && !s.drained) {
    s.drained = new Promise<void>((resolve, reject) => {
      const done = () => {
        res.off('close', closed)
        s.drained = undefined
        resolve()
      }
      const closed = () => {
        res.off('drain', done)
        s.drained = undefined
        reject(new AbortedError())
      }
      res.once('drain', done)
      res.once('close', closed)
    })
    // Nobody may be awaiting it yet; a rejection here is handled by the next #write.
    s.drained.catch(() => undefined)
  }
}

/** Ends the response with whatever is still queued, in one write with the chunked terminator. */
function endWithPending(s: StreamState, res: FastifyReply['raw']): void {
  const text = s.pending
  s.pending = ''
  if (text.length > 0) res.end(text)
  else res.end()
}

/** Text and tool-call arguments sent, and chunks forwarded without being parsed (read only for an estimate). */
type StreamOutput = (string | DeferredChunk)[]

/** Keeps what a chunk showed the client for the estimate; a chunk still unparsed is kept whole, parsed only if an estimate is needed. */
function keepOutput(output: StreamOutput, chunk: ResponseChunk): void {
  if (chunk instanceof DeferredChunk && !chunk.decoded) output.push(chunk)
  else collectOutput(output, chunk.events)
}

/** The text and tool-call arguments of some events. */
function collectOutput(output: StreamOutput, events: readonly StreamEvent[]): void {
  for (const ev of events) {
    if (ev.type === 'text') output.push(ev.text)
    else if (ev.type === 'tool_call') output.push(ev.arguments)
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
