/**
 * The HTTP side shared by the OpenAI and Anthropic adapters: a keep-alive undici pool per
 * provider, a JSON POST wired to the attempt's AbortSignal, non-2xx answers turned into
 * UpstreamError (status, Retry-After, the vendor's message and type), and SSE bodies parsed
 * chunk by chunk as they arrive.
 */
import { Pool, type Dispatcher } from 'undici'
import type { CanonicalResponse, ResponseChunk, WireProtocol } from '../canonical/types.js'
import { type AbortState, Cancellation } from '../util/cancellation.js'
import type { ProviderConfig, UpstreamCall, UpstreamResult } from './provider.js'
import { UpstreamError } from './provider.js'
import { type SseMessage, SseParser } from './sse-parser.js'

/** Default timeouts (ms): connect, response headers, idle time between body chunks. */
export const DEFAULT_TIMEOUTS = { connectMs: 10_000, headersMs: 60_000, bodyIdleMs: 60_000 } as const

/** Content negotiation headers of a JSON call. */
export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json', accept: 'application/json' }
/** Content negotiation headers of a streamed call. */
export const STREAM_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json', accept: 'text/event-stream' }

/** Largest error body read from an upstream (the rest is discarded). */
const MAX_ERROR_BODY = 64 * 1024

/** An upstream response with a 2xx status. */
export interface UpstreamResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Dispatcher.ResponseData['body']
}

/** One provider's HTTP client. */
export class HttpUpstream {
  readonly origin: string
  /** The base URL's path without a trailing slash ("/v1"). */
  readonly basePath: string
  readonly #dispatcher: Dispatcher
  readonly #owned: boolean
  readonly #headersTimeout: number
  readonly #bodyTimeout: number

  constructor(config: ProviderConfig, defaultBaseUrl: string, dispatcher?: Dispatcher) {
    const url = new URL(config.baseUrl ?? defaultBaseUrl)
    this.origin = url.origin
    this.basePath = url.pathname.replace(/\/+$/, '')
    const timeouts = { ...DEFAULT_TIMEOUTS, ...config.timeouts }
    this.#headersTimeout = timeouts.headersMs
    this.#bodyTimeout = timeouts.bodyIdleMs
    if (dispatcher) {
      this.#dispatcher = dispatcher
      this.#owned = false
    } else {
      this.#dispatcher = new Pool(this.origin, {
        connections: config.connections ?? null,
        connectTimeout: timeouts.connectMs,
        headersTimeout: timeouts.headersMs,
        bodyTimeout: timeouts.bodyIdleMs,
        keepAliveTimeout: 30_000,
      })
      this.#owned = true
    }
  }

  /**
   * POSTs a JSON body to `path` (relative to the base URL). Resolves with a 2xx response; throws
   * UpstreamError for other statuses (after reading the vendor's error), connection failures
   * and timeouts. An abort of `signal` cancels the request and closes its connection.
   */
  async post(path: string, headers: Record<string, string>, body: string, signal: AbortSignal | Cancellation): Promise<UpstreamResponse> {
    let response: Dispatcher.ResponseData
    try {
      // undici takes the Cancellation's EventEmitter view, which does not report an abort that
      // already happened: check it here.
      if (signal.aborted) throw signal.reason
      response = await this.#dispatcher.request({
        origin: this.origin,
        path: this.basePath + path,
        method: 'POST',
        headers,
        body,
        // The view has the EventEmitter methods undici calls (on/once/removeListener), not the whole class.
        signal: signal instanceof Cancellation ? (signal.undiciSignal as unknown as Dispatcher.RequestOptions['signal']) : signal,
        headersTimeout: this.#headersTimeout,
        bodyTimeout: this.#bodyTimeout,
      })
    } catch (err) {
      throw toUpstreamError(err, signal, 'request')
    }
    const { statusCode, headers: responseHeaders, body: responseBody } = response
    if (statusCode >= 200 && statusCode < 300) return { status: statusCode, headers: responseHeaders, body: responseBody }
    let text = ''
    try {
      text = await readLimited(responseBody, MAX_ERROR_BODY)
    } catch (err) {
      if (signal.aborted) throw toUpstreamError(err, signal, 'request')
    }
    throw httpError(statusCode, responseHeaders, text)
  }

  /** Closes the pool's connections (only when this client created the pool). */
  async close(): Promise<void> {
    if (this.#owned) await this.#dispatcher.close()
  }
}

/** Merges header maps left to right with lower-cased names, so a later source replaces an earlier one whatever its casing. */
export function mergeHeaders(...sources: (Record<string, string> | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const source of sources) {
    if (!source) continue
    for (const name in source) out[name.toLowerCase()] = source[name]
  }
  return out
}

/** Reads a whole (small) body as text; throws UpstreamError on a cut or timeout. */
export async function readBody(body: UpstreamResponse['body'], signal: AbortState): Promise<string> {
  try {
    return await body.text()
  } catch (err) {
    throw toUpstreamError(err, signal, 'body')
  }
}

async function readLimited(body: UpstreamResponse['body'], limit: number): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  let size = 0
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (size < limit) text += decoder.decode(chunk.subarray(0, limit - size), { stream: true })
    size += chunk.length
  }
  return text + decoder.decode()
}

/**
 * Iterates the SSE messages of a streamed body as its chunks arrive, one array per network read
 * (so a consumer handles the messages of one read in a plain loop, without an async step per
 * message). A body error (socket cut, idle timeout, abort) becomes an UpstreamError; leaving the
 * loop early destroys the body, which closes the upstream connection.
 */
export async function* sseMessageBatches(body: UpstreamResponse['body'], signal: AbortState): AsyncGenerator<SseMessage[]> {
  const parser = new SseParser()
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      const messages = parser.push(chunk)
      if (messages.length > 0) yield messages
    }
  } catch (err) {
    throw toUpstreamError(err, signal, 'body')
  }
  const rest = [...parser.end()]
  if (rest.length > 0) yield rest
}

/** A protocol's stream decoder as the shared stream driver sees it. */
export interface StreamMessageDecoder {
  /** True once the stream's end marker arrived (later messages are read and ignored). */
  readonly done: boolean
  /** True once the upstream reported how the answer finished. */
  readonly finished: boolean
  /** Decodes one SSE message: a chunk, or nothing to forward. Throws UpstreamError on an error event. */
  decode(message: SseMessage): ResponseChunk | undefined
}

/**
 * The stream result of an SSE upstream answer: chunks decoded as they arrive, grouped per network
 * read (`batches`, for the pipeline) and one by one (`chunks`); only the view consumed reads the
 * body. Chunks decoded before an error still reach the consumer, then the error. A stream that
 * ends before the upstream said it finished is an UpstreamError.
 */
export function sseStreamResult(response: UpstreamResponse, signal: AbortState, protocol: WireProtocol, decoder: StreamMessageDecoder): UpstreamResult {
  const body = response.body
  const batches = decodeBatches(response, signal, decoder)
  return {
    kind: 'stream',
    status: response.status,
    headers: response.headers,
    protocol,
    batches,
    chunks: flattenBatches(batches),
    cancel: () => {
      if (!body.destroyed) body.destroy()
    },
  }
}

async function* decodeBatches(response: UpstreamResponse, signal: AbortState, decoder: StreamMessageDecoder): AsyncGenerator<ResponseChunk[]> {
  for await (const messages of sseMessageBatches(response.body, signal)) {
    const batch: ResponseChunk[] = []
    for (const message of messages) {
      if (decoder.done) continue
      let chunk: ResponseChunk | undefined
      try {
        chunk = decoder.decode(message)
      } catch (err) {
        if (batch.length > 0) yield batch
        throw err
      }
      if (chunk) batch.push(chunk)
    }
    if (batch.length > 0) yield batch
  }
  if (!decoder.done && !decoder.finished) throw new UpstreamError('stream', 'upstream stream ended before the response was complete')
}

/** What differs between protocols in one upstream attempt; the flow around it is shared. */
export interface UpstreamExchange<Answer> {
  /** Path below the base URL ("/chat/completions"). */
  path: string
  /** The encoded request body. */
  body: unknown
  /** Headers including credentials. */
  headers: Record<string, string>
  protocol: WireProtocol
  /** Decodes a parsed non-streamed answer. */
  decodeAnswer(answer: Answer): CanonicalResponse
  /** A fresh stream decoder, for streamed requests. */
  streamDecoder(): StreamMessageDecoder
}

/**
 * One attempt: POST, then the stream result (SSE) or the decoded JSON answer with its raw body
 * kept for pass-through.
 */
export async function exchange<Answer>(http: HttpUpstream, call: UpstreamCall, x: UpstreamExchange<Answer>): Promise<UpstreamResult> {
  // The attempt's Cancellation when the pipeline gave one (cheaper than its AbortSignal view).
  const signal = call.cancellation ?? call.signal
  const response = await http.post(x.path, x.headers, JSON.stringify(x.body), signal)
  if (call.request.stream) return sseStreamResult(response, signal, x.protocol, x.streamDecoder())
  const text = await readBody(response.body, signal)
  return { kind: 'json', status: response.status, headers: response.headers, response: x.decodeAnswer(parseJsonAnswer<Answer>(text)), raw: { protocol: x.protocol, body: text } }
}

/** Flattens chunk batches into single chunks (the one-at-a-time view). */
async function* flattenBatches<T>(batches: AsyncIterable<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield* batch
}

/** Parses a JSON answer body; a body that is not JSON is the upstream breaking protocol. */
export function parseJsonAnswer<T>(text: string): T {
  try {
    return JSON.parse(text) as T
  } catch (cause) {
    throw new UpstreamError('protocol', 'upstream answer is not JSON', { cause })
  }
}

/** The UpstreamError of a non-2xx answer, with the vendor's message and type when its body is JSON. */
export function httpError(status: number, headers: Record<string, string | string[] | undefined>, text: string): UpstreamError {
  let upstreamMessage: string | undefined
  let upstreamType: string | undefined
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown } | string; message?: unknown; type?: unknown }
    const error = parsed?.error
    if (typeof error === 'object' && error !== null) {
      if (typeof error.message === 'string') upstreamMessage = error.message
      if (typeof error.type === 'string') upstreamType = error.type
      else if (typeof error.code === 'string') upstreamType = error.code
    } else if (typeof error === 'string') upstreamMessage = error
    else if (typeof parsed?.message === 'string') upstreamMessage = parsed.message
  } catch {
    if (text.length > 0) upstreamMessage = text.slice(0, 500)
  }
  return new UpstreamError('http', `upstream answered ${status}${upstreamMessage ? `: ${upstreamMessage}` : ''}`, {
    status,
    retryAfter: retryAfterSeconds(headers),
    upstreamMessage,
    upstreamType,
  })
}

/** Seconds to wait from `retry-after-ms`, `retry-after` (seconds or an HTTP date); undefined when absent or unparsable. */
export function retryAfterSeconds(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const ms = first(headers['retry-after-ms'])
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms) / 1000)
  const value = first(headers['retry-after'])?.trim()
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value))
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, Math.ceil((date - now) / 1000))
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

/** Maps an undici or socket error to an UpstreamError: timeouts, connection failures, or a broken stream. */
export function toUpstreamError(err: unknown, signal: AbortState, phase: 'request' | 'body'): UpstreamError {
  if (err instanceof UpstreamError) return err
  const error = err as { code?: string; name?: string; message?: string }
  if (signal.aborted) {
    const reason = signal.reason as { name?: string } | undefined
    const timedOut = reason?.name === 'TimeoutError'
    return new UpstreamError(timedOut ? 'timeout' : phase === 'body' ? 'stream' : 'connect', timedOut ? 'upstream attempt timed out' : 'upstream request aborted', { cause: err })
  }
  const code = error?.code ?? ''
  if (TIMEOUT_CODES.has(code)) return new UpstreamError('timeout', `upstream timed out (${code})`, { cause: err })
  const message = error?.message ?? String(err)
  return new UpstreamError(phase === 'body' ? 'stream' : 'connect', `${phase === 'body' ? 'upstream stream broke off' : 'upstream unreachable'}: ${code || message}`, { cause: err })
}
