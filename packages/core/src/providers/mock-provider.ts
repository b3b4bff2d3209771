/**
 * The built-in mock provider, for trying a gateway without a vendor key and for tests. It answers
 * in the OpenAI wire format, deterministically: the reply is "[mock] " followed by the text of the
 * last user message (so nobody mistakes it for a model), streamed in several chunks, with usage
 * counted by the tokenizer. When tools are given and tool_choice requires one, it calls the named
 * (or first) tool with arguments shaped by the tool's schema.
 *
 * A user message containing `[mock:status=<code>]` makes it fail like an upstream answering that
 * HTTP status (429 and 529 with Retry-After: 1), for exercising error paths without a fake server.
 */
import { setImmediate as nextTick } from 'node:timers/promises'
import { decode, encode } from 'gpt-tokenizer/encoding/o200k_base'
import type { CanonicalMessage, CanonicalRequest, ResponseChunk, ToolDefinition } from '../canonical/types.js'
import { decodeOpenAIResponse, OpenAIStreamDecoder } from '../protocols/openai/openai-response-decoder.js'
import type { OpenAIChatChunk, OpenAIChatResponse, OpenAIToolCall } from '../protocols/openai/openai-wire.js'
import { estimateInputTokens, estimateTextTokens } from '../usage/token-estimator.js'
import type { ProviderAdapter, ProviderConfig, ProviderFactory, UpstreamCall, UpstreamResult } from './provider.js'
import { UpstreamError } from './provider.js'

/** The prefix of every mock reply. */
export const MOCK_REPLY_PREFIX = '[mock] '

const STATUS_TRIGGER = /\[mock:status=(\d{3})\]/
const COUNT_OPTIONS = { disallowedSpecial: new Set<string>() }
const HEADERS = { 'content-type': 'application/json', 'x-tollgate-mock': 'true' }
const STREAM_HEADERS = { 'content-type': 'text/event-stream', 'x-tollgate-mock': 'true' }

/** The mock adapter (protocol "openai"). */
export class MockProvider implements ProviderAdapter {
  readonly config: ProviderConfig
  readonly protocol = 'openai' as const
  #sequence = 0

  constructor(config: ProviderConfig = { id: 'mock', kind: 'mock' }) {
    this.config = config
  }

  async call(call: UpstreamCall): Promise<UpstreamResult> {
    if (call.signal.aborted) throw new UpstreamError('connect', 'upstream request aborted', { cause: call.signal.reason })
    const request = call.request
    const userText = lastUserText(request.messages)
    const trigger = STATUS_TRIGGER.exec(userText)
    if (trigger) throw scriptedError(Number(trigger[1]))

    const id = `chatcmpl-mock-${++this.#sequence}`
    const created = Math.floor(Date.now() / 1000)
    const model = call.upstreamModel
    const tool = requiredTool(request)
    const inputTokens = estimateInputTokens(request)
    let text: string | null = null
    let toolCall: OpenAIToolCall | undefined
    let finish: 'stop' | 'length' | 'tool_calls' = 'stop'
    let outputTokens: number
    if (tool) {
      toolCall = { id: `call_mock_${this.#sequence}`, type: 'function', function: { name: tool.name, arguments: JSON.stringify(argumentsFor(tool, userText)) } }
      finish = 'tool_calls'
      outputTokens = estimateTextTokens(tool.name) + estimateTextTokens(toolCall.function.arguments)
    } else {
      text = MOCK_REPLY_PREFIX + (userText || '(no user message)')
      let tokens = encode(text, COUNT_OPTIONS)
      if (request.maxTokens !== undefined && tokens.length > request.maxTokens) {
        tokens = tokens.slice(0, request.maxTokens)
        text = decode(tokens)
        finish = 'length'
      }
      outputTokens = tokens.length
    }
    const usage = { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens, prompt_tokens_details: { cached_tokens: 0 } }

    if (!request.stream) {
      const body: OpenAIChatResponse = {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, ...(toolCall ? { tool_calls: [toolCall] } : {}), refusal: null }, logprobs: null, finish_reason: finish }],
        usage,
        system_fingerprint: 'fp_mock',
      }
      return { kind: 'json', status: 200, headers: { ...HEADERS }, response: decodeOpenAIResponse(body), raw: { protocol: 'openai', body: JSON.stringify(body) } }
    }

    const base = { id, object: 'chat.completion.chunk' as const, created, model, system_fingerprint: 'fp_mock' }
    const chunks: OpenAIChatChunk[] = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }]
    if (toolCall) {
      const args = toolCall.function.arguments
      const half = Math.ceil(args.length / 2)
      chunks.push({
        ...base,
        choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: toolCall.id, type: 'function', function: { name: toolCall.function.name, arguments: '' } }] }, logprobs: null, finish_reason: null }],
      })
      for (const piece of [args.slice(0, half), args.slice(half)]) {
        if (piece) chunks.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }] })
      }
    } else {
      for (const piece of splitText(text as string, 4)) chunks.push({ ...base, choices: [{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }] })
    }
    chunks.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finish }] })
    chunks.push({ ...base, choices: [], usage })
    return {
      kind: 'stream',
      status: 200,
      headers: { ...STREAM_HEADERS },
      protocol: 'openai',
      chunks: streamChunks(chunks, call.signal),
      cancel: () => {},
    }
  }

  async close(): Promise<void> {}
}

async function* streamChunks(chunks: OpenAIChatChunk[], signal: AbortSignal): AsyncGenerator<ResponseChunk> {
  const decoder = new OpenAIStreamDecoder()
  for (const chunk of chunks) {
    await nextTick()
    if (signal.aborted) throw new UpstreamError('stream', 'upstream request aborted', { cause: signal.reason })
    const data = JSON.stringify(chunk)
    const item = decoder.decode(data, `data: ${data}\n\n`)
    if (item.kind === 'chunk') yield item.chunk
  }
}

/** The texts of the last user (or tool) message: what the mock echoes. */
function lastUserText(messages: CanonicalMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]
    if (message.role !== 'user' && message.role !== 'tool') continue
    let text = ''
    for (const part of message.content) {
      if (part.type === 'text') text += (text ? ' ' : '') + part.text
      else if (part.type === 'tool_result') {
        for (const inner of part.content) if (inner.type === 'text') text += (text ? ' ' : '') + inner.text
      }
    }
    return text
  }
  return ''
}

function requiredTool(request: CanonicalRequest): ToolDefinition | undefined {
  const tools = request.tools
  if (!tools || tools.length === 0) return undefined
  const choice = request.toolChoice
  if (choice === 'required') return tools[0]
  if (typeof choice === 'object') return tools.find((t) => t.name === choice.name) ?? tools[0]
  return undefined
}

/** Arguments matching the tool's schema: the user text for strings, zero, false, empty lists and objects otherwise. */
function argumentsFor(tool: ToolDefinition, userText: string): Record<string, unknown> {
  const properties = (tool.parameters?.properties ?? {}) as Record<string, { type?: string | string[] }>
  const out: Record<string, unknown> = {}
  for (const name in properties) {
    const declared = properties[name]?.type
    const type = Array.isArray(declared) ? declared[0] : declared
    out[name] = type === 'number' || type === 'integer' ? 0 : type === 'boolean' ? false : type === 'array' ? [] : type === 'object' ? {} : userText
  }
  return out
}

/** Splits a text into about `parts` pieces at spaces (or evenly when it has none). */
function splitText(text: string, parts: number): string[] {
  if (text.length === 0) return []
  const size = Math.max(1, Math.ceil(text.length / parts))
  const out: string[] = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(text.length, start + size)
    const space = text.indexOf(' ', end)
    if (end < text.length && space !== -1 && space - end < size) end = space + 1
    out.push(text.slice(start, end))
    start = end
  }
  return out
}

function scriptedError(status: number): UpstreamError {
  const retryAfter = status === 429 || status === 529 ? 1 : undefined
  const type = status === 429 ? 'rate_limit_error' : status === 401 ? 'authentication_error' : status >= 500 ? 'server_error' : 'invalid_request_error'
  const message = `mock error ${status}`
  return new UpstreamError('http', `upstream answered ${status}: ${message}`, { status, retryAfter, upstreamMessage: message, upstreamType: type })
}

/** Factory of the mock adapter. */
export const mockProviderFactory: ProviderFactory = (config) => new MockProvider(config)
