/**
 * Canonical stream → `chat.completion.chunk` SSE for an OpenAI client. Forwards the upstream's
 * own bytes when allowed, except the usage chunk when the client did not ask for it with
 * `stream_options.include_usage` (the gateway always asks the upstream for it, to meter).
 */
import { DeferredChunk } from '../../canonical/deferred-chunk.js'
import type { CanonicalRequest, FinishReason, ResponseChunk, StreamEvent, Usage } from '../../canonical/types.js'
import { openAIErrorBody } from '../../errors/render.js'
import type { TollgateError } from '../../errors/tollgate-error.js'
import type { StreamEncoder } from '../client-protocol.js'
import type { OpenAIChatChunk, OpenAIToolCallDelta } from './openai-wire.js'
import { finishReasonToOpenAI, usageToOpenAI } from './openai-wire.js'

const DONE = 'data: [DONE]\n\n'

/** The stream encoder of one OpenAI client stream. */
export class OpenAIStreamEncoder implements StreamEncoder {
  readonly #includeUsage: boolean
  #id: string
  #model: string
  #created: number
  #started = false
  /** Raw upstream chunks were forwarded, so the upstream already sent the role deltas. */
  #rawForwarded = false
  readonly #roleSent = new Set<number>()
  #usageSent = false

  constructor(options: { request: CanonicalRequest; requestedModel: string; requestId: string }) {
    this.#includeUsage = options.request.includeUsage
    this.#id = `chatcmpl-${options.requestId}`
    this.#model = options.requestedModel
    this.#created = Math.floor(Date.now() / 1000)
  }

  encode(chunk: ResponseChunk, passRaw: boolean): string {
    // Deltas only (no start, no usage): forwarded as they came, without reading their events.
    if (passRaw && chunk instanceof DeferredChunk) {
      this.#rawForwarded = true
      return chunk.raw
    }
    const events = chunk.events
    let hasUsage = false
    let onlyMeta = true
    for (const event of events) {
      if (event.type === 'start') this.#start(event)
      else if (event.type === 'usage') hasUsage = true
      else onlyMeta = false
    }
    if (passRaw && chunk.raw !== undefined) {
      if (!hasUsage || this.#includeUsage) {
        this.#rawForwarded = true
        if (hasUsage) this.#usageSent = true
        return chunk.raw
      }
      // The usage chunk (`choices: []`) the client did not ask for.
      if (onlyMeta) return ''
    }
    let out = ''
    for (const event of events) out += this.#event(event)
    return out
  }

  end(usage: Usage | undefined): string {
    if (this.#includeUsage && !this.#usageSent && usage) {
      this.#usageSent = true
      return this.#usageChunk(usage) + DONE
    }
    return DONE
  }

  error(error: TollgateError): string {
    return `data: ${JSON.stringify(openAIErrorBody(error))}\n\n`
  }

  #start(event: Extract<StreamEvent, { type: 'start' }>): void {
    if (this.#started) return
    this.#started = true
    if (event.id) this.#id = event.id
    if (event.model) this.#model = event.model
    if (event.created) this.#created = event.created
  }

  #event(event: StreamEvent): string {
    switch (event.type) {
      case 'start':
        return this.#role(0)
      case 'text':
        return this.#role(event.index) + this.#chunk(event.index, { content: event.text }, null)
      case 'tool_call': {
        const call: OpenAIToolCallDelta = { index: event.toolIndex }
        if (event.id !== undefined) {
          call.id = event.id
          call.type = 'function'
        }
        call.function = event.name !== undefined ? { name: event.name, arguments: event.arguments } : { arguments: event.arguments }
        return this.#role(event.index) + this.#chunk(event.index, { tool_calls: [call] }, null)
      }
      case 'finish':
        return this.#role(event.index) + this.#chunk(event.index, {}, event.reason)
      case 'usage':
        if (!this.#includeUsage) return ''
        this.#usageSent = true
        return this.#usageChunk(event.usage)
    }
  }

  #role(index: number): string {
    if (this.#rawForwarded || this.#roleSent.has(index)) return ''
    this.#roleSent.add(index)
    return this.#chunk(index, { role: 'assistant', content: '' }, null)
  }

  #chunk(index: number, delta: OpenAIChatChunk['choices'][number]['delta'], reason: FinishReason | null): string {
    const chunk: OpenAIChatChunk = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: [{ index, delta, logprobs: null, finish_reason: finishReasonToOpenAI(reason) }],
    }
    return `data: ${JSON.stringify(chunk)}\n\n`
  }

  #usageChunk(usage: Usage): string {
    const chunk: OpenAIChatChunk = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: [],
      usage: usageToOpenAI(usage),
    }
    return `data: ${JSON.stringify(chunk)}\n\n`
  }
}
