import type { WireProtocol } from '../canonical/types.js'
import { errorSpec, type TollgateError } from './tollgate-error.js'

/** The JSON body of an error in the OpenAI shape. */
export function openAIErrorBody(error: TollgateError): Record<string, unknown> {
  return {
    error: { message: error.message, type: errorSpec(error.code).openai, param: error.field ?? null, code: error.code },
  }
}

/** The JSON body of an error in the Anthropic shape (`{type:'error', error:{type, message}}`). */
export function anthropicErrorBody(error: TollgateError, requestId?: string): Record<string, unknown> {
  return {
    type: 'error',
    error: { type: errorSpec(error.code).anthropic, message: error.message, code: error.code, ...(error.field ? { field: error.field } : {}) },
    ...(requestId ? { request_id: requestId } : {}),
  }
}

/** The JSON body of an error on the management API. */
export function managementErrorBody(error: TollgateError, requestId?: string): Record<string, unknown> {
  return { error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}), ...(requestId ? { requestId } : {}) } }
}

/** Renders an error in the shape the given client protocol expects. */
export function errorBodyFor(protocol: WireProtocol | 'management', error: TollgateError, requestId?: string): Record<string, unknown> {
  if (protocol === 'openai') return openAIErrorBody(error)
  if (protocol === 'anthropic') return anthropicErrorBody(error, requestId)
  return managementErrorBody(error, requestId)
}
