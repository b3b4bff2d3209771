/**
 * A local fake of the Anthropic Messages API (`POST …/messages`) that speaks the wire format
 * faithfully: `message` bodies, and the full named-event stream (message_start with input and
 * cache usage, content_block_start, ping, content_block_delta with text_delta / input_json_delta /
 * thinking_delta, content_block_stop, message_delta with the cumulative output count,
 * message_stop). Errors use Anthropic's `{type:'error', error:{type, message}}` JSON, including
 * 529 overloaded_error and the `event: error` mid-stream. Scripts choose the answer per request.
 *
 * const fake = await startFakeAnthropic()
 * fake.setScript(() => ({ text: 'Hi!', usage: { inputTokens: 5, outputTokens: 2, cacheReadTokens: 100 } }))
 * // … point a provider at `${fake.url}/v1` …
 */
import { type FakeServer, lastUserText, type RecordedRequest, type StreamFault, startFakeServer, wordPieces } from './fake-http.js'

export type { RecordedRequest, StreamFault } from './fake-http.js'

/** What the fake answers to one request. Every field is optional. */
export interface FakeAnthropicReply {
  /** HTTP status. A non-2xx status answers with `error` in Anthropic's error shape. */
  status?: number
  headers?: Record<string, string>
  error?: { type: string; message: string }
  /** The assistant text (default "echo: <last user text>"; null for no text block). */
  text?: string | null
  /** Stream pieces of the text (default: word by word). */
  pieces?: string[]
  /** A thinking block before the text (with a signature), as extended thinking produces. */
  thinking?: string
  toolUses?: { id: string; name: string; input: Record<string, unknown> }[]
  /** Default "end_turn", or "tool_use" when toolUses are given. */
  stopReason?: string
  stopSequence?: string | null
  /** input_tokens here EXCLUDES cache reads and writes, as Anthropic reports it. Default: input 10, output = pieces. */
  usage?: { inputTokens: number; outputTokens: number; cacheReadTokens?: number; cacheWriteTokens?: number }
  model?: string
  id?: string
  delayMs?: number
  /** Stream fault after N SSE messages; the error kind sends `event: error`. */
  fault?: StreamFault
  streamError?: { type: string; message: string }
  hangBeforeHeaders?: boolean
  rawBody?: string
  crlf?: boolean
  splitAt?: number
  /** Leave out the ping event. */
  omitPing?: boolean
}

/** Decides the reply to a request (its index among all requests is `n`, from 0). */
export type FakeAnthropicScript = (request: RecordedRequest, n: number) => FakeAnthropicReply | Promise<FakeAnthropicReply>

/** A running fake Anthropic server. */
export interface FakeAnthropic extends FakeServer {
  /** Base URL including /v1, as a provider's baseUrl. */
  baseUrl: string
  setScript(script: FakeAnthropicScript): void
  /** SSE responses in progress now (same as stats.openStreams). */
  readonly openStreams: number
  /** Connections open now (same as stats.openConnections). */
  readonly openConnections: number
}

/** Options of the fake. */
export interface FakeAnthropicOptions {
  script?: FakeAnthropicScript
  /** When set, requests whose `x-api-key` (or Bearer token) differs get Anthropic's 401. */
  apiKey?: string
}

const ERROR_DEFAULTS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'messages: field required' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'model: nope' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
  500: { type: 'api_error', message: 'Internal server error' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
}

/** A scripted Anthropic error reply with the vendor's usual type and message for `status` (429 and 529 add Retry-After). */
export function anthropicErrorReply(status: number, options: { retryAfter?: string; message?: string } = {}): FakeAnthropicReply {
  const base = ERROR_DEFAULTS[status] ?? { type: 'api_error', message: `Error ${status}` }
  const headers: Record<string, string> = {}
  const retryAfter = options.retryAfter ?? (status === 429 ? '12' : status === 529 ? '3' : undefined)
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter
  return { status, headers, error: { type: base.type, message: options.message ?? base.message } }
}

let sequence = 0

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  let script: FakeAnthropicScript = options.script ?? (() => ({}))
  let count = 0
  const server = await startFakeServer(async (req, res, recorded, { writeSse }) => {
    const n = count++
    const requestId = `req_fake${++sequence}`
    const fail = (status: number, error: { type: string; message: string }, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers })
      res.end(JSON.stringify({ type: 'error', error, request_id: requestId }))
    }
    if (req.method !== 'POST' || !recorded.path.split('?')[0].endsWith('/messages')) {
      fail(404, { type: 'not_found_error', message: 'Not Found' })
      return
    }
    if (options.apiKey !== undefined) {
      const key = recorded.headers['x-api-key'] ?? recorded.headers.authorization?.replace(/^Bearer /, '')
      if (key !== options.apiKey) {
        fail(401, ERROR_DEFAULTS[401])
        return
      }
    }
    const reply = await script(recorded, n)
    if (reply.hangBeforeHeaders) return
    const status = reply.status ?? 200
    const headers = { 'request-id': requestId, ...reply.headers }
    if (reply.rawBody !== undefined) {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(reply.rawBody)
      return
    }
    if (status < 200 || status >= 300) {
      fail(status, reply.error ?? ERROR_DEFAULTS[status] ?? ERROR_DEFAULTS[500], reply.headers)
      return
    }
    const body = recorded.body ?? {}
    const model = reply.model ?? body.model ?? 'claude-fake'
    const id = reply.id ?? `msg_fake${sequence}`
    const toolUses = reply.toolUses ?? []
    const text = reply.text !== undefined ? reply.text : toolUses.length > 0 ? null : `echo: ${lastUserText(body)}`
    const pieces = reply.pieces ?? (text ? wordPieces(text) : [])
    const stopReason = reply.stopReason ?? (toolUses.length > 0 ? 'tool_use' : 'end_turn')
    const u = reply.usage ?? { inputTokens: 10, outputTokens: Math.max(1, pieces.length + toolUses.length) }
    const usage = {
      input_tokens: u.inputTokens,
      cache_creation_input_tokens: u.cacheWriteTokens ?? 0,
      cache_read_input_tokens: u.cacheReadTokens ?? 0,
      output_tokens: u.outputTokens,
      service_tier: 'standard',
    }
    const signature = 'c2lnbmF0dXJl'
    const content: Record<string, unknown>[] = []
    if (reply.thinking !== undefined) content.push({ type: 'thinking', thinking: reply.thinking, signature })
    if (text !== null) content.push({ type: 'text', text })
    for (const tool of toolUses) content.push({ type: 'tool_use', id: tool.id, name: tool.name, input: tool.input })

    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: reply.stopSequence ?? null, usage }))
      return
    }

    const messages: string[] = [
      sse('message_start', {
        type: 'message_start',
        message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
      }),
    ]
    let index = 0
    let pinged = reply.omitPing === true
    const ping = () => {
      if (pinged) return
      pinged = true
      messages.push(sse('ping', { type: 'ping' }))
    }
    if (reply.thinking !== undefined) {
      messages.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }))
      ping()
      messages.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: reply.thinking } }))
      messages.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature } }))
      messages.push(sse('content_block_stop', { type: 'content_block_stop', index }))
      index++
    }
    if (text !== null) {
      messages.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }))
      ping()
      for (const piece of pieces) messages.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }))
      messages.push(sse('content_block_stop', { type: 'content_block_stop', index }))
      index++
    }
    for (const tool of toolUses) {
      messages.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: tool.id, name: tool.name, input: {} } }))
      ping()
      const json = JSON.stringify(tool.input)
      const half = Math.ceil(json.length / 2)
      messages.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }))
      for (const part of [json.slice(0, half), json.slice(half)]) {
        if (part) messages.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: part } }))
      }
      messages.push(sse('content_block_stop', { type: 'content_block_stop', index }))
      index++
    }
    ping()
    messages.push(
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: reply.stopSequence ?? null },
        usage: { output_tokens: u.outputTokens },
      }),
    )
    messages.push(sse('message_stop', { type: 'message_stop' }))
    const streamError = reply.streamError ?? ERROR_DEFAULTS[529]
    await writeSse(messages, {
      headers,
      delayMs: reply.delayMs,
      fault: reply.fault,
      errorEvent: sse('error', { type: 'error', error: streamError }),
      crlf: reply.crlf,
      splitAt: reply.splitAt,
    })
  })
  return {
    ...server,
    baseUrl: `${server.url}/v1`,
    setScript(next) {
      script = next
    },
    get openStreams() {
      return server.stats.openStreams
    },
    get openConnections() {
      return server.stats.openConnections
    },
  }
}
