import type { ResponseChunk, StreamEvent } from '@tollgate/core'
import type { Finding, RuleSet } from '../engine/rule-set.js'
import { TextGuard } from './text-guard.js'

/**
 * Guards a whole streamed answer: one TextGuard per choice text and per tool call's arguments.
 * Other events pass in order; a choice's held text is released before its `finish` event, and
 * everything still held is released with the pipeline's final (`last`) chunk.
 */
export class StreamGuard {
  readonly #rules: RuleSet
  readonly #maxHold: number
  readonly #onFindings: (findings: Finding[]) => void
  readonly #texts = new Map<number, TextGuard>()
  readonly #tools = new Map<string, { index: number; toolIndex: number; guard: TextGuard }>()

  constructor(rules: RuleSet, maxHold: number, onFindings: (findings: Finding[]) => void) {
    this.#rules = rules
    this.#maxHold = maxHold
    this.#onFindings = onFindings
  }

  /** The chunk to send in place of `chunk`. */
  transform(chunk: ResponseChunk): ResponseChunk {
    const events: StreamEvent[] = []
    for (const ev of chunk.events) {
      if (ev.type === 'text') {
        const text = this.#text(ev.index).push(ev.text)
        if (text) events.push({ type: 'text', index: ev.index, text })
      } else if (ev.type === 'tool_call') {
        const key = `${ev.index}:${ev.toolIndex}`
        let entry = this.#tools.get(key)
        if (!entry) {
          entry = { index: ev.index, toolIndex: ev.toolIndex, guard: new TextGuard(this.#rules, this.#maxHold, this.#onFindings) }
          this.#tools.set(key, entry)
        }
        const args = entry.guard.push(ev.arguments)
        // The first event of a call carries its id and name: it is sent even with no arguments yet.
        if (args || ev.id !== undefined || ev.name !== undefined) events.push({ ...ev, arguments: args })
      } else if (ev.type === 'finish') {
        this.#flush(events, ev.index)
        events.push(ev)
      } else events.push(ev)
    }
    if (chunk.last) this.#flush(events)
    return { events, last: chunk.last }
  }

  #text(index: number): TextGuard {
    let g = this.#texts.get(index)
    if (!g) {
      g = new TextGuard(this.#rules, this.#maxHold, this.#onFindings)
      this.#texts.set(index, g)
    }
    return g
  }

  /** Releases what is held for one choice (or all): text first, then each tool call's arguments. */
  #flush(events: StreamEvent[], index?: number): void {
    for (const [i, g] of this.#texts) {
      if (index !== undefined && i !== index) continue
      const text = g.push('', true)
      if (text) events.push({ type: 'text', index: i, text })
    }
    for (const t of this.#tools.values()) {
      if (index !== undefined && t.index !== index) continue
      const args = t.guard.push('', true)
      if (args) events.push({ type: 'tool_call', index: t.index, toolIndex: t.toolIndex, arguments: args })
    }
  }
}
