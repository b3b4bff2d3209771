/**
 * The adapter for OpenAI and OpenAI-compatible upstreams (`POST {baseUrl}/chat/completions`,
 * `Authorization: Bearer`). Streams always ask for the final usage chunk so usage is metered;
 * the OpenAI client encoder drops it when the client did not ask.
 */
import type { Dispatcher } from 'undici'
import { encodeOpenAIRequest } from '../protocols/openai/openai-request-encoder.js'
import { decodeOpenAIResponse, OpenAIStreamDecoder } from '../protocols/openai/openai-response-decoder.js'
import type { OpenAIChatResponse } from '../protocols/openai/openai-wire.js'
import { exchange, HttpUpstream, JSON_HEADERS, mergeHeaders, STREAM_HEADERS, type StreamMessageDecoder } from './http-upstream.js'
import type { ProviderAdapter, ProviderConfig, ProviderFactory, UpstreamCall, UpstreamResult } from './provider.js'
import { UpstreamError } from './provider.js'

/** The default base URL of the OpenAI adapter. */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1'

/** Adapter for OpenAI Chat Completions upstreams. */
export class OpenAIProvider implements ProviderAdapter {
  readonly config: ProviderConfig
  readonly protocol = 'openai' as const
  readonly #http: HttpUpstream
  /** The configured headers, lower-cased once. */
  readonly #headers: Record<string, string>

  constructor(config: ProviderConfig, options: { dispatcher?: Dispatcher } = {}) {
    this.config = config
    this.#http = new HttpUpstream(config, OPENAI_BASE_URL, options.dispatcher)
    this.#headers = mergeHeaders(config.headers)
  }

  async call(call: UpstreamCall): Promise<UpstreamResult> {
    const body = encodeOpenAIRequest(call.request, { model: call.upstreamModel })
    const headers = mergeHeaders(this.#headers, call.passHeaders, call.request.stream ? STREAM_HEADERS : JSON_HEADERS)
    const key = call.apiKey ?? this.config.apiKey
    if (key) headers.authorization = `Bearer ${key}`
    return exchange<OpenAIChatResponse>(this.#http, call, { path: '/chat/completions', body, headers, protocol: 'openai', decodeAnswer: decodeOpenAIResponse, streamDecoder: openAIMessages })
  }

  close(): Promise<void> {
    return this.#http.close()
  }
}

/** OpenAI's stream decoder for the shared driver, with `event: error` messages as errors. */
function openAIMessages(): StreamMessageDecoder {
  const decoder = new OpenAIStreamDecoder()
  return {
    get done() {
      return decoder.done
    },
    get finished() {
      return decoder.finished
    },
    decode(message) {
      if (message.event === 'error') throw namedErrorEvent(message.data)
      const item = decoder.decode(message.data, message.raw)
      return item.kind === 'chunk' ? item.chunk : undefined
    },
  }
}

/** Some OpenAI-compatible servers send a stream error as `event: error`. */
function namedErrorEvent(data: string): UpstreamError {
  let error: { message?: string; type?: string; code?: string } | undefined
  try {
    const parsed = JSON.parse(data) as { error?: typeof error; message?: string; type?: string }
    error = typeof parsed?.error === 'object' && parsed.error !== null ? parsed.error : (parsed ?? undefined)
  } catch {
    error = { message: data }
  }
  const message = typeof error?.message === 'string' ? error.message : 'unknown error'
  return new UpstreamError('stream', `upstream stream error: ${message}`, { upstreamMessage: message, upstreamType: error?.type ?? error?.code })
}

/** Factory of the OpenAI adapter. */
export const openAIProviderFactory: ProviderFactory = (config, options) => new OpenAIProvider(config, options)
