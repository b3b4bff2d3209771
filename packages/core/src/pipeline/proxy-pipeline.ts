import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { computeCost, type ModelCatalog } from '../catalog/model-catalog.js'
import type { CanonicalRequest, ResponseChunk, Usage } from '../canonical/types.js'
import { PluginState } from '../context/plugin-state.js'
import type { Principal } from '../context/principal.js'
import type { RequestContext } from '../context/request-context.js'
import { TollgateError, isTollgateError, toTollgateError } from '../errors/tollgate-error.js'
import type { ApiKeyAuthenticator } from '../identity/api-key-authenticator.js'
import type { ClientProtocol, StreamEncoder } from '../protocols/client-protocol.js'
import type { ProviderRegistry } from '../providers/provider-registry.js'
import type { UpstreamResult } from '../providers/provider.js'
import { credentialFrom } from '../server/credentials.js'
import { estimateInputTokens, estimateTextTokens } from '../usage/token-estimator.js'
import type { UsageWriter } from '../usage/usage-writer.js'
import type { HookRunner } from './hook-runner.js'
import type { InflightTracker } from './inflight.js'
import { mapUpstreamError } from './upstream-errors.js'
import { usageEventFrom } from './usage-event-builder.js'

/** What the pipeline needs from the gateway. */
export interface ProxyPipelineDeps {
  hooks: HookRunner
  apiKeys: ApiKeyAuthenticator
  catalog: ModelCatalog
  providers: ProviderRegistry
  /** The project's own provider key, if it has one (bring your own key). */
  providerKeyFor: (projectId: string, provider: string) => Promise<string | undefined>
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
    const abort = new AbortController()
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
      state: new PluginState(),
      signal: abort.signal,
    }
    const res = reply.raw
    const onClose = () => {
      if (!res.writableFinished) abort.abort()
    }
    res.once('close', onClose)
    d.inflight.enter()
    reply.header('x-request-id', ctx.id)
    let stream: StreamState | undefined
    try {
      if (d.inflight.draining) throw new TollgateError('TOLLGATE_ERR_SERVER_SHUTTING_DOWN', 'The gateway is shutting down; retry on another instance')
      ctx.principal = await this.authenticate(request)
      ctx.request = protocol.decodeRequest(request.body)
      await d.hooks.run('onAuthenticated', ctx)
      const { adapter, apiKey } = await this.#route(ctx)
      await d.hooks.run('beforeUpstream', ctx)
      const passHeaders: Record<string, string> = {}
      for (const h of PASS_HEADERS[protocol.protocol]) {
        const v = headerValue(request.headers[h])
        if (v) passHeaders[h] = v
      }
      ctx.timings.upstreamStart = performance.now()
      let result: UpstreamResult
      try {
        result = await adapter.call({ ctx, request: ctx.request, upstreamModel: ctx.route!.upstreamModel, apiKey, passHeaders, signal: abort.signal })
      } catch (err) {
        if (abort.signal.aborted) throw new AbortedError()
        ctx.outcome = 'upstream_error'
        throw mapUpstreamError(err, ctx.route!.provider)
      }
      ctx.timings.upstreamHeaders = performance.now()
      ctx.upstreamStatus = result.status
      if (result.kind === 'stream') {
        stream = { started: false, pending: '', flushScheduled: false, encoder: protocol.createStreamEncoder({ request: ctx.request, requestedModel: ctx.request.model, requestId: ctx.id }), output: [] }
        await this.#stream(ctx, protocol, result, reply, stream, abort.signal)
      } else {
        await d.hooks.upstreamResponse(ctx, { status: result.status, headers: result.headers, streaming: false })
        const { response, modified } = await d.hooks.response(ctx, result.response)
        ctx.response = response
        ctx.usage = response.usage ?? this.#estimate(ctx, response.choices.flatMap((c) => c.message.content.map((p) => (p.type === 'text' ? p.text : p.type === 'tool_call' ? p.arguments : ''))))
        const body = protocol.encodeResponse(response, { raw: result.raw, modified, requestedModel: ctx.request.model })
        ctx.status = 200
        ctx.outcome = 'success'
        ctx.timings.firstByte = performance.now()
        reply.code(200).header('content-type', 'application/json; charset=utf-8').send(body)
      }
    } catch (err) {
      if (err instanceof AbortedError || (abort.signal.aborted && !isTollgateError(err))) {
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
      if (abort.signal.aborted && ctx.outcome !== 'success') {
        ctx.outcome = 'aborted'
        ctx.status = 499
        stream?.upstream?.cancel()
      }
      ctx.timings.end = performance.now()
      if (ctx.principal && ctx.request && !ctx.usage && (stream || ctx.outcome === 'aborted')) {
        ctx.usage = this.#estimate(ctx, stream?.output ?? [])
      }
      if (ctx.usage && ctx.route) {
        const model = d.catalog.get(ctx.route.model)
        if (model) ctx.cost = computeCost(model, ctx.usage)
      }
      d.inflight.leave()
      // onComplete never delays the client: it runs after the response is handed to the socket.
      setImmediate(() => void this.#complete(ctx))
    }
  }

  async #route(ctx: RequestContext) {
    const d = this.#d
    const model = d.catalog.get(ctx.request.model)
    if (!model) throw new TollgateError('TOLLGATE_ERR_MODEL_NOT_FOUND', `The model "${ctx.request.model}" does not exist in this gateway's catalog`, { field: 'model' })
    if (!model.available) throw new TollgateError('TOLLGATE_ERR_MODEL_UNAVAILABLE', `The model "${model.name}" is currently unavailable`, { field: 'model' })
    const adapter = d.providers.get(model.provider)
    if (!adapter) throw new TollgateError('TOLLGATE_ERR_MODEL_UNAVAILABLE', `The model "${model.name}" has no configured provider`, { field: 'model' })
    const projectId = ctx.principal.projectId
    const ownKey = projectId ? await d.providerKeyFor(projectId, model.provider) : undefined
    ctx.route = { model: model.name, provider: model.provider, providerKind: adapter.config.kind, upstreamModel: model.upstreamModel, attempt: 1, ownKey: ownKey !== undefined }
    return { adapter, apiKey: ownKey ?? adapter.config.apiKey }
  }

  async #stream(ctx: RequestContext, protocol: ClientProtocol, result: Extract<UpstreamResult, { kind: 'stream' }>, reply: FastifyReply, s: StreamState, signal: AbortSignal): Promise<void> {
    const d = this.#d
    s.upstream = result
    await d.hooks.upstreamResponse(ctx, { status: result.status, headers: result.headers, streaming: true })
    const sameProtocol = result.protocol === protocol.protocol
    const hasChunkHooks = d.hooks.has('onResponseChunk')
    d.inflight.streamStarted()
    try {
      try {
        for await (const batch of result.batches ?? singleChunks(result.chunks)) {
          if (signal.aborted) throw new AbortedError()
          // The chunks of one upstream read are handled in a plain loop; an await happens only
          // for chunk hooks and for back-pressure.
          for (const upstreamChunk of batch) {
            for (const ev of upstreamChunk.events) {
              if (ev.type === 'usage') ctx.usage = ev.usage
            }
            let chunk: ResponseChunk = upstreamChunk
            let modified = false
            if (hasChunkHooks) ({ chunk, modified } = await d.hooks.chunk(ctx, upstreamChunk))
            collectOutput(s.output, chunk)
            const text = s.encoder.encode(chunk, sameProtocol && !modified)
            if (text) {
              const pending = this.#write(ctx, reply, s, text)
              if (pending) await pending
            }
          }
        }
      } catch (err) {
        if (signal.aborted || err instanceof AbortedError) throw new AbortedError()
        if (isTollgateError(err)) throw err
        ctx.outcome = 'upstream_error'
        throw mapUpstreamError(err, ctx.route!.provider)
      }
      if (hasChunkHooks) {
        const { chunk } = await d.hooks.chunk(ctx, { events: [], last: true })
        collectOutput(s.output, chunk)
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
   * it can still be a normal error response). Everything queued while one upstream read is being
   * decoded leaves in a single write (one HTTP chunk, one syscall) on the next tick; the returned
   * promise waits for the socket to drain when the client reads slower than the upstream sends.
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
      process.nextTick(flushPending, s, res)
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

  #estimate(ctx: RequestContext, output: string[]): Usage {
    let out = 0
    for (const t of output) out += estimateTextTokens(t)
    return { inputTokens: estimateInputTokens(ctx.request), outputTokens: out, cachedReadTokens: 0, cacheWriteTokens: 0, estimated: true }
  }

  async #complete(ctx: RequestContext): Promise<void> {
    const d = this.#d
    try {
      if (ctx.outcome === 'aborted') await d.hooks.observe('onAbort', ctx)
      else if (ctx.error) await d.hooks.observe('onError', ctx, ctx.error)
      await d.hooks.observe('onComplete', ctx)
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
  output: string[]
  upstream?: Extract<UpstreamResult, { kind: 'stream' }>
}

/** Adapts a one-chunk-at-a-time stream to batches of one. */
async function* singleChunks(chunks: AsyncIterable<ResponseChunk>): AsyncGenerator<ResponseChunk[]> {
  for await (const chunk of chunks) yield [chunk]
}

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

function collectOutput(output: string[], chunk: ResponseChunk): void {
  for (const ev of chunk.events) {
    if (ev.type === 'text') output.push(ev.text)
    else if (ev.type === 'tool_call') output.push(ev.arguments)
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
