/**
 * An incremental Server-Sent Events parser for upstream response bodies. Bytes go in as they
 * arrive (any split, including inside a UTF-8 sequence or between CR and LF); complete messages
 * come out with their decoded fields and the exact text they were framed in, so a gateway can
 * forward the upstream's own bytes when nothing changed.
 *
 * Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; `:` starts a comment; a
 * field without a colon has an empty value; one space after the colon is dropped; several `data`
 * lines join with "\n"; a blank line dispatches. A block with no `data` line is not dispatched.
 * A CR that ends a chunk is held until the next byte shows whether it starts a CRLF, so a stream
 * framed with lone CRs gets each message one chunk late (LF and CRLF streams are not delayed).
 */

/** One dispatched SSE message. */
export interface SseMessage {
  /** The `event:` field, when present. */
  event?: string
  /** The `data:` lines joined with "\n". */
  data: string
  /** The `id:` field, when present. */
  id?: string
  /** The message exactly as framed upstream, from its first line to its terminating blank line. */
  raw: string
}

const LF = 10
const CR = 13

/** Incremental SSE parser: `push` body chunks as they arrive, then `end` once the body is finished. */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8')
  /** Pieces of the current, incomplete line (a long line can span many chunks). */
  #lineParts: string[] = []
  /** Pieces of the current message's text so far, for `raw`. */
  #rawParts: string[] = []
  /** The last chunk ended in CR: held back until we know whether an LF follows (CRLF is one line end). */
  #heldCR = false
  #data: string[] = []
  #event: string | undefined
  #id: string | undefined

  /** Feeds bytes (or already-decoded text) and returns the messages they completed. */
  push(chunk: Uint8Array | string): SseMessage[] {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true })
    if (text.length === 0) return []
    return this.#scan(text, false)
  }

  /** Flushes the decoder and dispatches a last message that lacked its terminating blank line. */
  end(): SseMessage[] {
    const out = this.#scan(this.#decoder.decode(), true)
    // A last line without a line ending still counts as a line.
    if (this.#lineParts.length > 0) this.#line(this.#lineParts.join(''))
    if (this.#data.length > 0) out.push(this.#dispatch(this.#rawParts.join('')))
    this.#lineParts = []
    this.#rawParts = []
    this.#reset()
    return out
  }

  #scan(input: string, final: boolean): SseMessage[] {
    let text = input
    if (this.#heldCR) {
      text = '\r' + text
      this.#heldCR = false
    }
    if (!final && text.charCodeAt(text.length - 1) === CR) {
      this.#heldCR = true
      text = text.slice(0, -1)
    }
    const out: SseMessage[] = []
    const length = text.length
    let lineStart = 0
    let nextCR = text.indexOf('\r')
    while (lineStart < length) {
      const nextLF = text.indexOf('\n', lineStart)
      if (nextCR !== -1 && nextCR < lineStart) nextCR = text.indexOf('\r', lineStart)
      // The common message, `data: …` and a blank line, LF-framed, at a message boundary: cut out
      // whole, without the per-line pieces and field arrays of the general path (same result).
      if (nextLF !== -1 && text.charCodeAt(nextLF + 1) === LF && (nextCR === -1 || nextCR > nextLF) && this.#atBoundary() && text.startsWith('data: ', lineStart)) {
        out.push({ data: text.slice(lineStart + 6, nextLF), raw: text.slice(lineStart, nextLF + 2) })
        lineStart = nextLF + 2
        continue
      }
      let end: number
      let next: number
      if (nextCR !== -1 && (nextLF === -1 || nextCR < nextLF)) {
        end = nextCR
        next = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
      } else if (nextLF !== -1) {
        end = nextLF
        next = end + 1
      } else break
      const rawPiece = text.slice(lineStart, next)
      if (end === lineStart && this.#lineParts.length === 0) {
        // Blank line: dispatch the message, or drop a block that had no data (comments only).
        if (this.#data.length > 0) {
          this.#rawParts.push(rawPiece)
          out.push(this.#dispatch(this.#rawParts.length === 1 ? rawPiece : this.#rawParts.join('')))
        } else this.#reset()
        this.#rawParts = []
      } else {
        let line = text.slice(lineStart, end)
        if (this.#lineParts.length > 0) {
          this.#lineParts.push(line)
          line = this.#lineParts.join('')
          this.#lineParts = []
        }
        this.#line(line)
        this.#rawParts.push(rawPiece)
      }
      lineStart = next
    }
    if (lineStart < length) {
      const rest = lineStart === 0 ? text : text.slice(lineStart)
      this.#lineParts.push(rest)
      this.#rawParts.push(rest)
    }
    return out
  }

  /** True between messages: no partial line, field or raw text held from earlier input. */
  #atBoundary(): boolean {
    return this.#lineParts.length === 0 && this.#rawParts.length === 0 && this.#data.length === 0 && this.#event === undefined && this.#id === undefined
  }

  #line(line: string): void {
    const colon = line.indexOf(':')
    if (colon === 0) return // comment
    let field: string
    let value: string
    if (colon < 0) {
      field = line
      value = ''
    } else {
      field = line.slice(0, colon)
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1)
    }
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id' && !value.includes('\0')) this.#id = value
    // `retry` and unknown fields are ignored.
  }

  #dispatch(raw: string): SseMessage {
    const message: SseMessage = { data: this.#data.length === 1 ? this.#data[0] : this.#data.join('\n'), raw }
    if (this.#event !== undefined) message.event = this.#event
    if (this.#id !== undefined) message.id = this.#id
    this.#reset()
    return message
  }

  #reset(): void {
    this.#data = []
    this.#event = undefined
    this.#id = undefined
  }
}
