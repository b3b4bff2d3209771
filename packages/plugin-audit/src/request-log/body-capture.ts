import type { RequestContext, ResponseChunk } from '@tollgate/core'

/** What a streamed answer is assembled into, per choice. */
interface StreamedChoice {
  index: number
  text: string
  toolCalls: { index: number; id?: string; name?: string; arguments: string }[]
  finishReason?: string
}

/** The verbose data of one request, kept only for organizations whose retention is `retain`. */
export interface CapturedBody {
  requestId: string
  organizationId: string
  /** The canonical request as sent upstream (messages and parameters, after any rewriting hook before this plugin). */
  request: unknown
  /** The response: the canonical response, or the assembled stream. */
  response: unknown
  /** Error details when the request failed. */
  error: unknown
  /** Tokens stored (prompt + completion), reported to billing's data-retention meter. */
  storedTokens: number
}

/** Accumulates a streamed answer from the chunks the hooks see. */
export class StreamCapture {
  readonly #choices = new Map<number, StreamedChoice>()
  #model?: string
  #id?: string

  /** Adds one chunk's events. */
  add(chunk: ResponseChunk): void {
    for (const ev of chunk.events) {
      if (ev.type === 'start') {
        this.#id = ev.id
        this.#model = ev.model
        continue
      }
      if (ev.type === 'usage') continue
      const c = this.#choice(ev.index)
      if (ev.type === 'text') c.text += ev.text
      else if (ev.type === 'finish') c.finishReason = ev.reason
      else if (ev.type === 'tool_call') {
        let call = c.toolCalls.find((t) => t.index === ev.toolIndex)
        if (!call) {
          call = { index: ev.toolIndex, arguments: '' }
          c.toolCalls.push(call)
        }
        if (ev.id) call.id = ev.id
        if (ev.name) call.name = ev.name
        call.arguments += ev.arguments
      }
    }
  }

  /** The assembled answer. */
  result(): unknown {
    return { id: this.#id, model: this.#model, streamed: true, choices: [...this.#choices.values()].sort((a, b) => a.index - b.index) }
  }

  #choice(index: number): StreamedChoice {
    let c = this.#choices.get(index)
    if (!c) {
      c = { index, text: '', toolCalls: [] }
      this.#choices.set(index, c)
    }
    return c
  }
}

/** The verbose record of a finished request. */
export function captureBody(ctx: RequestContext, stream: StreamCapture | undefined): CapturedBody {
  const { wire: _wire, ...request } = ctx.request as typeof ctx.request & { wire?: unknown }
  const usage = ctx.usage
  return {
    requestId: ctx.id,
    organizationId: ctx.principal.organizationId,
    request: { ...request, route: ctx.route ? { provider: ctx.route.provider, model: ctx.route.model, upstreamModel: ctx.route.upstreamModel } : undefined },
    response: stream ? stream.result() : (ctx.response ?? null),
    error: ctx.error ? { code: ctx.error.code, status: ctx.error.status, message: ctx.error.message, outcome: ctx.outcome } : null,
    storedTokens: usage ? usage.inputTokens + usage.outputTokens : 0,
  }
}
