/**
 * Messages answers → canonical: the `message` body and the named-event stream
 * (message_start, content_block_start/delta/stop, message_delta, message_stop, ping, error).
 */
import type { CanonicalResponse, ResponseChunk, StreamEvent, Usage } from '../../canonical/types.js'
import { UpstreamError } from '../../providers/provider.js'
import { parseStreamMessage } from '../stream-message.js'
import { decodeAnthropicBlock } from './anthropic-request-decoder.js'
import type { AnthropicBlock, AnthropicResponse, AnthropicUsage } from './anthropic-wire.js'
import { finishReasonFromAnthropic, usageFromAnthropic } from './anthropic-wire.js'

/** Decodes a parsed Messages response body. */
export function decodeAnthropicResponse(body: AnthropicResponse): CanonicalResponse {
  if (typeof body !== 'object' || body === null || !Array.isArray(body.content)) {
    throw new UpstreamError('protocol', 'upstream answer is not a Messages response')
  }
  const response: CanonicalResponse = {
    id: String(body.id ?? ''),
    model: String(body.model ?? ''),
    created: Math.floor(Date.now() / 1000),
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: body.content.map(decodeAnthropicBlock) },
        finishReason: finishReasonFromAnthropic(body.stop_reason),
      },
    ],
  }
  if (body.usage) response.usage = usageFromAnthropic(body.usage)
  return response
}

/** What one SSE message of an Anthropic stream decoded to. */
export type AnthropicStreamItem = { kind: 'chunk'; chunk: ResponseChunk } | { kind: 'skip' } | { kind: 'done' }

interface StreamEventData {
  type?: string
  index?: number
  message?: { id?: string; model?: string; usage?: AnthropicUsage }
  content_block?: AnthropicBlock
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null }
  usage?: AnthropicUsage
  error?: { type?: string; message?: string }
}

/**
 * Decodes an Anthropic stream message by message. Keeps the usage of message_start (input and
 * cache counts) to combine it with message_delta's cumulative output count, and maps content
 * block indexes to tool-call indexes.
 */
export class AnthropicStreamDecoder {
  #usage: AnthropicUsage = {}
  /** Content block index → tool-call index, for tool_use blocks. */
  readonly #toolIndex = new Map<number, number>()
  #tools = 0
  /** True once message_stop arrived. */
  done = false
  /** True once message_delta reported a stop reason. */
  finished = false

  /** Decodes one SSE message; throws UpstreamError on an `error` event or bad JSON. */
  decode(event: string | undefined, data: string, raw: string): AnthropicStreamItem {
    const parsed = parseStreamMessage<StreamEventData>(data)
    const type = event ?? parsed.type
    const events: StreamEvent[] = []
    switch (type) {
      case 'ping':
        return { kind: 'skip' }
      case 'message_stop':
        this.done = true
        return { kind: 'done' }
      case 'error': {
        const error = parsed.error ?? {}
        throw new UpstreamError('stream', `upstream stream error: ${error.message ?? error.type ?? 'unknown error'}`, {
          upstreamMessage: error.message,
          upstreamType: error.type,
        })
      }
      case 'message_start': {
        const message = parsed.message ?? {}
        if (message.usage) this.#usage = { ...message.usage }
        events.push({ type: 'start', id: message.id ?? '', model: message.model ?? '', created: Math.floor(Date.now() / 1000) })
        break
      }
      case 'content_block_start': {
        const block = parsed.content_block
        const index = parsed.index ?? 0
        if (block?.type === 'text' && block.text) events.push({ type: 'text', index: 0, text: block.text })
        else if (block?.type === 'tool_use') {
          const toolIndex = this.#tools++
          this.#toolIndex.set(index, toolIndex)
          const input = block.input
          const args = input && typeof input === 'object' && Object.keys(input).length > 0 ? JSON.stringify(input) : ''
          events.push({ type: 'tool_call', index: 0, toolIndex, id: block.id ?? '', name: block.name ?? '', arguments: args })
        }
        break
      }
      case 'content_block_delta': {
        const delta = parsed.delta
        if (delta?.type === 'text_delta' && delta.text) events.push({ type: 'text', index: 0, text: delta.text })
        else if (delta?.type === 'input_json_delta' && delta.partial_json) {
          const toolIndex = this.#toolIndex.get(parsed.index ?? 0)
          if (toolIndex !== undefined) events.push({ type: 'tool_call', index: 0, toolIndex, arguments: delta.partial_json })
        }
        break
      }
      case 'message_delta': {
        const reason = finishReasonFromAnthropic(parsed.delta?.stop_reason)
        if (reason) {
          this.finished = true
          events.push({ type: 'finish', index: 0, reason })
        }
        if (parsed.usage) {
          // message_delta counts are cumulative totals: overwrite, never add.
          for (const key in parsed.usage) {
            const value = parsed.usage[key]
            if (value !== null && value !== undefined) this.#usage[key] = value
          }
          events.push({ type: 'usage', usage: this.usage() as Usage })
        }
        break
      }
      default:
        // content_block_stop and unknown events: nothing canonical, but the raw bytes still go to an Anthropic client.
        break
    }
    return { kind: 'chunk', chunk: { events, raw } }
  }

  /** Usage so far (input counts from message_start, output from the last message_delta). */
  usage(): Usage | undefined {
    return this.#usage.input_tokens === undefined && this.#usage.output_tokens === undefined ? undefined : usageFromAnthropic(this.#usage)
  }
}
