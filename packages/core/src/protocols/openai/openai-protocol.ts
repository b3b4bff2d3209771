import { openAIErrorBody } from '../../errors/render.js'
import type { ClientProtocol } from '../client-protocol.js'
import { decodeOpenAIRequest } from './openai-request-decoder.js'
import { encodeOpenAIResponse } from './openai-response-encoder.js'
import { OpenAIStreamEncoder } from './openai-stream-encoder.js'

/** The OpenAI Chat Completions client protocol (`POST /v1/chat/completions`). */
export const openAIProtocol: ClientProtocol = {
  protocol: 'openai',
  decodeRequest: decodeOpenAIRequest,
  encodeResponse: encodeOpenAIResponse,
  createStreamEncoder: (options) => new OpenAIStreamEncoder(options),
  errorBody: (error) => openAIErrorBody(error),
}
