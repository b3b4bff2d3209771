/**
 * Chat Completions answers → canonical: the `chat.completion` body and the
 * `chat.completion.chunk` stream, one SSE message at a time.
 */
import { DeferredChunk } from '../../canonical/deferred-chunk.js'
import type { CanonicalResponse, ContentPart, ResponseChunk, StreamEvent } from '../../canonical/types.js'
import { UpstreamError } from '../../providers/provider.js'
import { parseStreamMessage } from '../stream-message.js'
import type { OpenAIChatChunk, OpenAIChatResponse } from './openai-wire.js'
import { finishReasonFromOpenAI, usageFromOpenAI } from './openai-wire.js'

/** Decodes a parsed `chat.completion` body. */
export function decodeOpenAIResponse(body: OpenAIChatResponse): CanonicalResponse {
  if (typeof body !== 'object' || body === null || !Array.isArray(body.choices)) {
    throw new UpstreamError('protocol', 'upstream answer is not a chat.completion object')
  }
  const response: CanonicalResponse = {
    id: String(body.id ?? ''),
    model: String(body.model ?? ''),
    created: typeof body.created === 'number' ? body.created : Math.floor(Date.now() / 1000),
    choices: body.choices.map((choice, i) => {
      const content: ContentPart[] = []
      const message = choice.message ?? { role: 'assistant', content: null }
      if (typeof message.content === 'string') content.push({ type: 'text', text: message.content })
      if (message.tool_calls) {
        for (const call of message.tool_calls) {
          content.push({ type: 'tool_call', id: call.id, name: call.function?.name ?? '', arguments: call.function?.arguments ?? '' })
        }
      }
      return { index: choice.index ?? i, message: { role: 'assistant' as const, content }, finishReason: finishReasonFromOpenAI(choice.finish_reason) }
    }),
  }
  if (body.usage) response.usage = usageFromOpenAI(body.usage)
  return response
}

/** What one SSE message of an OpenAI stream decoded to. */
export type OpenAIStreamItem = { kind: 'chunk'; chunk: ResponseChunk } | { kind: 'done' }

/**
 * Decodes an OpenAI stream message by message. Stateful only to emit the `start` event once and
 * to know whether the stream reached an end (`[DONE]` or a finish reason).
 */
export class OpenAIStreamDecoder {
  #started = false
  /** True once `[DONE]` arrived. */
  done = false
  /** True once a choice reported a finish reason. */
  finished = false

  /**
   * Decodes one SSE message's data; throws UpstreamError on an error chunk or bad JSON. Once the
   * stream has started, a message that can only hold content deltas is handed out as a
   * DeferredChunk: parsed when (and if) something reads its events.
   */
  decode(data: string, raw: string): OpenAIStreamItem {
    if (data === '[DONE]') {
      this.done = true
      return { kind: 'done' }
    }
    if (this.#started && onlyDeltas(data)) return { kind: 'chunk', chunk: new DeferredChunk(raw, data, (text) => this.#events(parseStreamMessage<OpenAIChatChunk>(text))) }
    const chunk = parseStreamMessage<OpenAIChatChunk>(data)
    if (chunk.error !== undefined && chunk.error !== null) {
      const error = chunk.error
      throw new UpstreamError('stream', `upstream stream error: ${error.message ?? 'unknown error'}`, {
        upstreamMessage: error.message,
        upstreamType: error.type ?? (error.code ?? undefined),
      })
    }
    const events: StreamEvent[] = []
    if (!this.#started && (chunk.id || chunk.model)) {
      this.#started = true
      events.push({ type: 'start', id: chunk.id ?? '', model: chunk.model ?? '', created: chunk.created ?? Math.floor(Date.now() / 1000) })
    }
    this.#events(chunk, events)
    return { kind: 'chunk', chunk: { events, raw } }
  }

  /** The delta, finish and usage events of a parsed chunk (appended to `events`). */
  #events(chunk: OpenAIChatChunk, events: StreamEvent[] = []): StreamEvent[] {
    const choices = chunk.choices
    if (choices) {
      for (let i = 0; i < choices.length; i++) {
        const choice = choices[i]
        const index = choice.index ?? i
        const delta = choice.delta
        if (delta) {
          if (typeof delta.content === 'string' && delta.content.length > 0) events.push({ type: 'text', index, text: delta.content })
          if (delta.tool_calls) {
            for (const call of delta.tool_calls) {
              const event: Extract<StreamEvent, { type: 'tool_call' }> = { type: 'tool_call', index, toolIndex: call.index ?? 0, arguments: call.function?.arguments ?? '' }
              if (call.id) event.id = call.id
              if (call.function?.name) event.name = call.function.name
              events.push(event)
            }
          }
        }
        const reason = finishReasonFromOpenAI(choice.finish_reason)
        if (reason) {
          this.finished = true
          events.push({ type: 'finish', index, reason })
        }
      }
    }
    if (chunk.usage) events.push({ type: 'usage', usage: usageFromOpenAI(chunk.usage) })
    return events
  }
}

/**
 * What makes a chunk more than content deltas: an "error" key (or the word in quotes anywhere),
 * or a "usage" or "finish_reason" key whose value is not null. Read from the text: inside a JSON
 * string a quote is escaped, so `"usage"` followed by a colon is always a key (a string value
 * equal to "usage" is followed by a comma or a brace). After the colon, the first character that
 * is not JSON whitespace decides: only `null` starts with `n` (the class cannot match a space, so
 * backtracking over the spaces cannot make a null look like something else). One native scan per
 * message, about four times quicker than three searches and a walk per key.
 */
const MORE_THAN_DELTAS = /"error"|"(?:usage|finish_reason)"[ \t\n\r]*:[ \t\n\r]*[^ \t\n\rn]/

/**
 * True when a chunk's text can hold nothing but content deltas: a JSON object with no "error"
 * key, and "usage" and "finish_reason" absent or null (see MORE_THAN_DELTAS). Anything in doubt is
 * parsed at once.
 */
export function onlyDeltas(data: string): boolean {
  if (data.charCodeAt(0) !== 123 || data.charCodeAt(data.length - 1) !== 125) return false
  return !MORE_THAN_DELTAS.test(data)
}
