/**
 * The adapter for the Anthropic Messages API (`POST {baseUrl}/messages`, `x-api-key`). The
 * `anthropic-version` header is the client's when it sent one (passHeaders), else the provider
 * config's, else 2023-06-01: the gateway never pins a version over the client's.
 */
import type { Dispatcher } from 'undici'
import type { ResponseChunk } from '../canonical/types.js'
import { encodeAnthropicRequest } from '../protocols/anthropic/anthropic-request-encoder.js'
import { AnthropicStreamDecoder, decodeAnthropicResponse } from '../protocols/anthropic/anthropic-response-decoder.js'
import { type AnthropicResponse, DEFAULT_ANTHROPIC_VERSION } from '../protocols/anthropic/anthropic-wire.js'
import { batchedChunks, HttpUpstream, JSON_HEADERS, mergeHeaders, parseJsonAnswer, readBody, STREAM_HEADERS, sseMessageBatches, type UpstreamResponse } from './http-upstream.js'
import type { ProviderAdapter, ProviderConfig, ProviderFactory, UpstreamCall, UpstreamResult } from './provider.js'
import { UpstreamError } from './provider.js'

/** The default base URL of the Anthropic adapter. */
export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com/v1'

/** Adapter for Anthropic Messages upstreams. */
export class AnthropicProvider implements ProviderAdapter {
  readonly config: ProviderConfig
  readonly protocol = 'anthropic' as const
  readonly #http: HttpUpstream
  /** The configured headers, lower-cased once. */
  readonly #headers: Record<string, string>

  constructor(config: ProviderConfig, options: { dispatcher?: Dispatcher } = {}) {
    this.config = config
    this.#http = new HttpUpstream(config, ANTHROPIC_BASE_URL, options.dispatcher)
    this.#headers = mergeHeaders({ 'anthropic-version': DEFAULT_ANTHROPIC_VERSION }, config.headers)
  }

  async call(call: UpstreamCall): Promise<UpstreamResult> {
    const body = encodeAnthropicRequest(call.request, { model: call.upstreamModel })
    const headers = mergeHeaders(this.#headers, call.passHeaders, call.request.stream ? STREAM_HEADERS : JSON_HEADERS)
    const key = call.apiKey ?? this.config.apiKey
    if (key) headers['x-api-key'] = key
    const response = await this.#http.post('/messages', headers, JSON.stringify(body), call.signal)
    if (call.request.stream) return streamResult(response, call.signal)
    const text = await readBody(response.body, call.signal)
    const parsed = parseJsonAnswer<AnthropicResponse>(text)
    return { kind: 'json', status: response.status, headers: response.headers, response: decodeAnthropicResponse(parsed), raw: { protocol: 'anthropic', body: text } }
  }

  close(): Promise<void> {
    return this.#http.close()
  }
}

function streamResult(response: UpstreamResponse, signal: AbortSignal): UpstreamResult {
  const body = response.body
  return {
    kind: 'stream',
    status: response.status,
    headers: response.headers,
    protocol: 'anthropic',
    ...batchedChunks(anthropicBatches(response, signal)),
    cancel: () => {
      if (!body.destroyed) body.destroy()
    },
  }
}

async function* anthropicBatches(response: UpstreamResponse, signal: AbortSignal): AsyncGenerator<ResponseChunk[]> {
  const decoder = new AnthropicStreamDecoder()
  for await (const messages of sseMessageBatches(response.body, signal)) {
    const batch: ResponseChunk[] = []
    for (const message of messages) {
      if (decoder.done) continue
      let item: ReturnType<AnthropicStreamDecoder['decode']>
      try {
        item = decoder.decode(message.event, message.data, message.raw)
      } catch (err) {
        // What was decoded before the error still reaches the client, then the error.
        if (batch.length > 0) yield batch
        throw err
      }
      if (item.kind === 'chunk') batch.push(item.chunk)
    }
    if (batch.length > 0) yield batch
  }
  if (!decoder.done && !decoder.finished) throw new UpstreamError('stream', 'upstream stream ended before the response was complete')
}

/** Factory of the Anthropic adapter. */
export const anthropicProviderFactory: ProviderFactory = (config, options) => new AnthropicProvider(config, options)
