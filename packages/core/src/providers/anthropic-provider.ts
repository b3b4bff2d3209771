/**
 * The adapter for the Anthropic Messages API (`POST {baseUrl}/messages`, `x-api-key`). The
 * `anthropic-version` header is the client's when it sent one (passHeaders), else the provider
 * config's, else 2023-06-01: the gateway never pins a version over the client's.
 */
import type { Dispatcher } from 'undici'
import { encodeAnthropicRequest } from '../protocols/anthropic/anthropic-request-encoder.js'
import { AnthropicStreamDecoder, decodeAnthropicResponse } from '../protocols/anthropic/anthropic-response-decoder.js'
import { type AnthropicResponse, DEFAULT_ANTHROPIC_VERSION } from '../protocols/anthropic/anthropic-wire.js'
import { exchange, HttpUpstream, JSON_HEADERS, mergeHeaders, STREAM_HEADERS, type StreamMessageDecoder } from './http-upstream.js'
import type { ProviderAdapter, ProviderConfig, ProviderFactory, UpstreamCall, UpstreamResult } from './provider.js'

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
    return exchange<AnthropicResponse>(this.#http, call, { path: '/messages', body, headers, protocol: 'anthropic', decodeAnswer: decodeAnthropicResponse, streamDecoder: anthropicMessages })
  }

  close(): Promise<void> {
    return this.#http.close()
  }
}

/** Anthropic's stream decoder for the shared driver. */
function anthropicMessages(): StreamMessageDecoder {
  const decoder = new AnthropicStreamDecoder()
  return {
    get done() {
      return decoder.done
    },
    get finished() {
      return decoder.finished
    },
    decode(message) {
      const item = decoder.decode(message.event, message.data, message.raw)
      return item.kind === 'chunk' ? item.chunk : undefined
    },
  }
}

/** Factory of the Anthropic adapter. */
export const anthropicProviderFactory: ProviderFactory = (config, options) => new AnthropicProvider(config, options)
