import type { ResponseChunk, StreamEvent } from './types.js'

/**
 * A stream chunk whose events are decoded from the upstream's message when first read.
 *
 * Stream decoders hand these out for messages that can carry nothing but content deltas (no
 * start, usage, finish or error: the decoder checks the text for those keys first). A stream
 * passed through to a client of the upstream's protocol then forwards their bytes without ever
 * parsing them, which was most of the gateway's own work on a stream; whatever reads `events` (a
 * chunk hook, another protocol's encoder, the token estimate of a stream cut short) gets them
 * decoded, once, and a message that is not valid JSON fails there as it would have on arrival.
 */
export class DeferredChunk implements ResponseChunk {
  readonly raw: string
  #data: string | undefined
  #events: StreamEvent[] | undefined
  readonly #decode: (data: string) => StreamEvent[]

  constructor(raw: string, data: string, decode: (data: string) => StreamEvent[]) {
    this.raw = raw
    this.#data = data
    this.#decode = decode
  }

  get events(): StreamEvent[] {
    if (this.#events === undefined) {
      this.#events = this.#decode(this.#data as string)
      this.#data = undefined
    }
    return this.#events
  }

  set events(events: StreamEvent[]) {
    this.#events = events
    this.#data = undefined
  }

  /** True once the events were read (so decoded) or replaced. */
  get decoded(): boolean {
    return this.#events !== undefined
  }
}
