/**
 * Canonical stream → Messages named-event SSE for an Anthropic client. Every message carries an
 * `event:` line (the Anthropic SDK drops data-only messages). Content blocks are opened and
 * closed as text and tool-call events arrive; message_delta (stop reason and usage) is held until
 * the end, because an OpenAI upstream reports usage after the finish reason.
 *
 * Raw upstream bytes are forwarded while allowed; the encoder follows the upstream's block
 * structure from the event names so it can take over mid-stream. Once it had to open or close a
 * block itself (a hook changed the structure), it stops forwarding raw bytes, so block indexes
 * stay consistent.
 */
import type { CanonicalRequest, ResponseChunk, StreamEvent, Usage } from '../../canonical/types.js'
import { anthropicErrorBody } from '../../errors/render.js'
import type { TollgateError } from '../../errors/tollgate-error.js'
import type { StreamEncoder } from '../client-protocol.js'
import { finishReasonToAnthropic, usageToAnthropic } from './anthropic-wire.js'

type OpenBlock = { kind: 'text' } | { kind: 'tool_use'; toolIndex: number } | { kind: 'other' }

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

/** The event name of a raw SSE message (its `event:` line), or undefined. */
function rawEventName(raw: string): string | undefined {
  if (!raw.startsWith('event:')) return undefined
  let end = raw.indexOf('\n')
  if (end < 0) end = raw.length
  if (raw.charCodeAt(end - 1) === 13) end--
  return raw.slice(6, end).trim()
}

/** The stream encoder of one Anthropic client stream. */
export class AnthropicStreamEncoder implements StreamEncoder {
  readonly #requestId: string
  #id: string
  #model: string
  #started = false
  #nextIndex = 0
  #open: OpenBlock | undefined
  #stopReason: string | null = null
  #usage: Usage | undefined
  /** The upstream's message_delta was forwarded raw. */
  #deltaSent = false
  /** The encoder changed the block structure itself: raw bytes can no longer be forwarded. */
  #diverged = false

  constructor(options: { request: CanonicalRequest; requestedModel: string; requestId: string }) {
    this.#requestId = options.requestId
    this.#id = `msg_${options.requestId}`
    this.#model = options.requestedModel
  }

  encode(chunk: ResponseChunk, passRaw: boolean): string {
    if (passRaw && chunk.raw !== undefined && !this.#diverged) {
      this.#follow(chunk)
      return chunk.raw
    }
    let out = ''
    for (const event of chunk.events) out += this.#event(event)
    return out
  }

  end(usage: Usage | undefined): string {
    let out = this.#ensureStarted()
    out += this.#close()
    if (!this.#deltaSent) {
      const final = usage ?? this.#usage
      const u = final ? usageToAnthropic(final) : { input_tokens: 0, output_tokens: 0 }
      out += sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: this.#stopReason ?? 'end_turn', stop_sequence: null },
        usage: { output_tokens: u.output_tokens, input_tokens: u.input_tokens, cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0, cache_read_input_tokens: u.cache_read_input_tokens ?? 0 },
      })
    }
    return out + sse('message_stop', { type: 'message_stop' })
  }

  error(error: TollgateError): string {
    return sse('error', anthropicErrorBody(error, this.#requestId))
  }

  /** Tracks the upstream's structure from a raw chunk that is forwarded as is. */
  #follow(chunk: ResponseChunk): void {
    for (const event of chunk.events) {
      if (event.type === 'start') this.#learn(event)
      else if (event.type === 'finish') this.#stopReason = finishReasonToAnthropic(event.reason)
      else if (event.type === 'usage') this.#usage = event.usage
    }
    switch (rawEventName(chunk.raw as string)) {
      case 'message_start':
        this.#started = true
        break
      case 'content_block_start': {
        const tool = chunk.events.find((e) => e.type === 'tool_call')
        if (tool) this.#open = { kind: 'tool_use', toolIndex: tool.toolIndex }
        else this.#open = (chunk.raw as string).includes('"type":"text"') ? { kind: 'text' } : { kind: 'other' }
        this.#nextIndex++
        break
      }
      case 'content_block_stop':
        this.#open = undefined
        break
      case 'message_delta':
        this.#deltaSent = true
        break
    }
  }

  #learn(event: Extract<StreamEvent, { type: 'start' }>): void {
    if (this.#started) return
    if (event.id) this.#id = event.id
    if (event.model) this.#model = event.model
  }

  #event(event: StreamEvent): string {
    switch (event.type) {
      case 'start':
        this.#learn(event)
        return this.#ensureStarted()
      case 'text': {
        let out = this.#ensureStarted()
        if (this.#open?.kind !== 'text') out += this.#close() + this.#openBlock({ kind: 'text' }, { type: 'text', text: '' })
        return out + sse('content_block_delta', { type: 'content_block_delta', index: this.#nextIndex - 1, delta: { type: 'text_delta', text: event.text } })
      }
      case 'tool_call': {
        let out = this.#ensureStarted()
        const open = this.#open
        if (open?.kind !== 'tool_use' || open.toolIndex !== event.toolIndex) {
          out += this.#close()
          out += this.#openBlock(
            { kind: 'tool_use', toolIndex: event.toolIndex },
            { type: 'tool_use', id: event.id ?? `toolu_${this.#requestId}_${event.toolIndex}`, name: event.name ?? '', input: {} },
          )
        }
        if (event.arguments.length > 0) {
          out += sse('content_block_delta', { type: 'content_block_delta', index: this.#nextIndex - 1, delta: { type: 'input_json_delta', partial_json: event.arguments } })
        }
        return out
      }
      case 'finish':
        this.#stopReason = finishReasonToAnthropic(event.reason)
        return this.#close()
      case 'usage':
        this.#usage = event.usage
        return ''
    }
  }

  #ensureStarted(): string {
    if (this.#started) return ''
    this.#started = true
    this.#diverged = true
    return sse('message_start', {
      type: 'message_start',
      message: {
        id: this.#id,
        type: 'message',
        role: 'assistant',
        model: this.#model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    })
  }

  #openBlock(block: OpenBlock, contentBlock: Record<string, unknown>): string {
    this.#open = block
    this.#diverged = true
    const index = this.#nextIndex++
    return sse('content_block_start', { type: 'content_block_start', index, content_block: contentBlock })
  }

  #close(): string {
    if (!this.#open) return ''
    this.#open = undefined
    this.#diverged = true
    return sse('content_block_stop', { type: 'content_block_stop', index: this.#nextIndex - 1 })
  }
}
