import type { CanonicalRequest, CanonicalResponse, ResponseChunk, Usage, WireProtocol } from '../canonical/types.js'
import type { TollgateError } from '../errors/tollgate-error.js'

/**
 * A client-facing protocol (OpenAI Chat Completions, Anthropic Messages): decodes the client's
 * request into the canonical shape and encodes canonical answers back in its wire format.
 */
export interface ClientProtocol {
  readonly protocol: WireProtocol
  /** Validates (ajv, compiled once) and decodes a parsed JSON body. Throws TollgateError naming the field. */
  decodeRequest(body: unknown): CanonicalRequest
  /**
   * Encodes a complete response. `raw` is the upstream's own body when it spoke this protocol;
   * an encoder may return it as is when `response` was not changed by a hook.
   */
  encodeResponse(response: CanonicalResponse, options: { raw?: { protocol: WireProtocol; body: string }; modified: boolean; requestedModel: string }): string
  /** A stateful encoder for one stream. */
  createStreamEncoder(options: { request: CanonicalRequest; requestedModel: string; requestId: string }): StreamEncoder
  /** The error body in this protocol's shape. */
  errorBody(error: TollgateError, requestId: string): Record<string, unknown>
}

/** Encodes one stream, chunk by chunk, as SSE text. */
export interface StreamEncoder {
  /**
   * SSE text for one chunk. When `passRaw` is true (same protocol, no hook changed the chunk),
   * the encoder may forward `chunk.raw` as is, except for parts the client did not ask for (the
   * usage chunk without include_usage).
   */
  encode(chunk: ResponseChunk, passRaw: boolean): string
  /** SSE text that ends the stream normally ([DONE] for OpenAI; message_stop for Anthropic), given the final usage. */
  end(usage: Usage | undefined): string
  /** SSE text of an error event that ends the stream. */
  error(error: TollgateError): string
}
