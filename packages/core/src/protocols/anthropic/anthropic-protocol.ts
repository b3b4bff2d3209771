import { anthropicErrorBody } from '../../errors/render.js'
import type { ClientProtocol } from '../client-protocol.js'
import { decodeAnthropicRequest } from './anthropic-request-decoder.js'
import { encodeAnthropicResponse } from './anthropic-response-encoder.js'
import { AnthropicStreamEncoder } from './anthropic-stream-encoder.js'

/** The Anthropic Messages client protocol (`POST /v1/messages`). */
export const anthropicProtocol: ClientProtocol = {
  protocol: 'anthropic',
  decodeRequest: decodeAnthropicRequest,
  encodeResponse: encodeAnthropicResponse,
  createStreamEncoder: (options) => new AnthropicStreamEncoder(options),
  errorBody: (error, requestId) => anthropicErrorBody(error, requestId),
}
