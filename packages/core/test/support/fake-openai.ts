/**
 * A local fake of the OpenAI Chat Completions API (`POST …/chat/completions`) that speaks the
 * wire format faithfully: `chat.completion` bodies, `chat.completion.chunk` SSE with a role delta
 * first, tool-call deltas, a finish chunk, the usage chunk with `choices: []` only when the
 * request asked `stream_options.include_usage`, and `data: [DONE]`. Errors use OpenAI's error
 * JSON. Scripts choose the answer per request: text, tool calls, usage with cached tokens, error
 * statuses with Retry-After, a mid-stream error chunk, a hang, a cut, slow pacing.
 *
 * const fake = await startFakeOpenAI()
 * fake.setScript(() => ({ text: 'Hi!', usage: { promptTokens: 12, completionTokens: 2, cachedTokens: 4 } }))
 * // … point a provider at `${fake.url}/v1` …
 * fake.requests[0].body.messages
 */
import { type FakeServer, lastUserText, type RecordedRequest, type StreamFault, startFakeServer, wordPieces } from './fake-http.js'

export type { RecordedRequest, StreamFault } from './fake-http.js'

/** What the fake answers to one request. Every field is optional. */
export interface FakeOpenAIReply {
  /** HTTP status. A non-2xx status answers with `error` in OpenAI's error shape. */
  status?: number
  /** Extra response headers (e.g. retry-after). */
  headers?: Record<string, string>
  error?: { message: string; type?: string; code?: string | null; param?: string | null }
  /** The assistant text (default "echo: <last user text>"; null with tool calls and no text). */
  text?: string | null
  /** Stream pieces of the text (default: word by word). */
  pieces?: string[]
  /** Tool calls; `pieces` streams the arguments in exactly those pieces (default: two halves). */
  toolCalls?: { id: string; name: string; arguments: string; pieces?: string[] }[]
  /** Default "stop", or "tool_calls" when toolCalls are given. */
  finishReason?: string
  /** Default: prompt 10, completion = number of pieces, cached 0. */
  usage?: { promptTokens: number; completionTokens: number; cachedTokens?: number; reasoningTokens?: number }
  /** Leave usage out entirely (an upstream that does not report it). */
  omitUsage?: boolean
  /** Default: the request's model. */
  model?: string
  id?: string
  /** Stream pacing: delay before each SSE message, ms. */
  delayMs?: number
  /** Stream fault after N SSE messages; the error kind sends `{"error":{…}}` as a chunk. */
  fault?: StreamFault
  /** The error of a `fault.kind === 'error'` chunk. */
  streamError?: { message: string; type?: string; code?: string | null }
  /** Never answer (not even headers). */
  hangBeforeHeaders?: boolean
  /** Answer exactly this body (with status and headers), for malformed answers. */
  rawBody?: string
  /** SSE with CRLF line endings. */
  crlf?: boolean
  /** Split every SSE message in two writes at this byte offset. */
  splitAt?: number
  /** Leave out the final `data: [DONE]`. */
  omitDone?: boolean
}

/** Decides the reply to a request (its index among all requests is `n`, from 0). */
export type FakeOpenAIScript = (request: RecordedRequest, n: number) => FakeOpenAIReply | Promise<FakeOpenAIReply>

/** A running fake OpenAI server. */
export interface FakeOpenAI extends FakeServer {
  /** Base URL including /v1, as a provider's baseUrl. */
  baseUrl: string
  setScript(script: FakeOpenAIScript): void
  /** SSE responses in progress now (same as stats.openStreams). */
  readonly openStreams: number
  /** Connections open now (same as stats.openConnections). */
  readonly openConnections: number
}

/** Options of the fake. */
export interface FakeOpenAIOptions {
  script?: FakeOpenAIScript
  /** When set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401. */
  apiKey?: string
}

const ERROR_DEFAULTS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Invalid request.', type: 'invalid_request_error', code: null },
  401: { message: 'Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { message: 'You are not allowed to sample from this model', type: 'invalid_request_error', code: null },
  404: { message: 'The model `nope` does not exist or you do not have access to it.', type: 'invalid_request_error', code: 'model_not_found' },
  429: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' },
  500: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null },
  503: { message: 'The engine is currently overloaded, please try again later', type: 'server_error', code: null },
}

/** A scripted OpenAI error reply with the vendor's usual message and type for `status` (429 adds Retry-After). */
export function openAIErrorReply(status: number, options: { retryAfter?: string; message?: string; type?: string } = {}): FakeOpenAIReply {
  const base = ERROR_DEFAULTS[status] ?? { message: `Error ${status}`, type: 'server_error', code: null }
  const headers: Record<string, string> = {}
  const retryAfter = options.retryAfter ?? (status === 429 ? '7' : undefined)
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter
  return { status, headers, error: { message: options.message ?? base.message, type: options.type ?? base.type, code: base.code, param: null } }
}

let sequence = 0

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let script: FakeOpenAIScript = options.script ?? (() => ({}))
  let count = 0
  const server = await startFakeServer(async (req, res, recorded, { writeSse }) => {
    const n = count++
    const requestId = `req_${++sequence}`
    if (req.method !== 'POST' || !recorded.path.split('?')[0].endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json', 'x-request-id': requestId })
      res.end(JSON.stringify({ error: { message: `Invalid URL (${req.method} ${recorded.path})`, type: 'invalid_request_error', param: null, code: null } }))
      return
    }
    if (options.apiKey !== undefined && recorded.headers.authorization !== `Bearer ${options.apiKey}`) {
      const reply = openAIErrorReply(401)
      res.writeHead(401, { 'content-type': 'application/json', 'x-request-id': requestId })
      res.end(JSON.stringify({ error: reply.error }))
      return
    }
    const reply = await script(recorded, n)
    if (reply.hangBeforeHeaders) return // the socket stays open until the client gives up
    const status = reply.status ?? 200
    const headers = { 'x-request-id': requestId, 'openai-processing-ms': '12', ...reply.headers }
    if (reply.rawBody !== undefined) {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(reply.rawBody)
      return
    }
    if (status < 200 || status >= 300) {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify({ error: { param: null, code: null, ...(reply.error ?? ERROR_DEFAULTS[500]) } }))
      return
    }
    const body = recorded.body ?? {}
    const model = reply.model ?? body.model ?? 'gpt-fake'
    const id = reply.id ?? `chatcmpl-fake${sequence}`
    const created = 1_700_000_000 + sequence
    const toolCalls = reply.toolCalls ?? []
    const text = reply.text !== undefined ? reply.text : toolCalls.length > 0 ? null : `echo: ${lastUserText(body)}`
    const pieces = reply.pieces ?? (text ? wordPieces(text) : [])
    const finishReason = reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop')
    const u = reply.usage ?? { promptTokens: 10, completionTokens: Math.max(1, pieces.length + toolCalls.length) }
    const usage = {
      prompt_tokens: u.promptTokens,
      completion_tokens: u.completionTokens,
      total_tokens: u.promptTokens + u.completionTokens,
      prompt_tokens_details: { cached_tokens: u.cachedTokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    }

    if (body.stream !== true) {
      const message: Record<string, unknown> = { role: 'assistant', content: text, refusal: null, annotations: [] }
      if (toolCalls.length > 0) message.tool_calls = toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }))
      const completion: Record<string, unknown> = {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
        service_tier: 'default',
        system_fingerprint: 'fp_fake123',
      }
      if (!reply.omitUsage) completion.usage = usage
      res.writeHead(200, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(completion))
      return
    }

    const includeUsage = body.stream_options?.include_usage === true && !reply.omitUsage
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => {
      const c: Record<string, unknown> = { id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_fake123', choices }
      if (includeUsage) c.usage = null
      return `data: ${JSON.stringify({ ...c, ...extra })}\n\n`
    }
    const delta = (d: Record<string, unknown>, finish: string | null = null) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }])
    const messages: string[] = [delta({ role: 'assistant', content: text === null ? null : '', refusal: null })]
    for (const piece of pieces) messages.push(delta({ content: piece }))
    toolCalls.forEach((call, index) => {
      messages.push(delta({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }))
      const half = Math.ceil(call.arguments.length / 2)
      for (const part of call.pieces ?? [call.arguments.slice(0, half), call.arguments.slice(half)]) {
        if (part) messages.push(delta({ tool_calls: [{ index, function: { arguments: part } }] }))
      }
    })
    messages.push(delta({}, finishReason))
    if (includeUsage) messages.push(chunk([], { usage }))
    if (!reply.omitDone) messages.push('data: [DONE]\n\n')
    const streamError = reply.streamError ?? { message: 'The server had an error while processing your request.', type: 'server_error', code: null }
    await writeSse(messages, {
      headers,
      delayMs: reply.delayMs,
      fault: reply.fault,
      errorEvent: `data: ${JSON.stringify({ error: { message: streamError.message, type: streamError.type ?? 'server_error', param: null, code: streamError.code ?? null } })}\n\n`,
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
