/**
 * JSON Schema of the Messages request as Tollgate accepts it, compiled once at module load. It
 * checks what Tollgate models (system, messages and their blocks, tools, sampling, streaming)
 * and lets every other parameter and block type through for the upstream to judge.
 */
import { TollgateError } from '../../errors/tollgate-error.js'
import { createAjv, describeAjvErrors } from '../../util/ajv.js'
import { when, whenType } from '../json-schema-helpers.js'

const block = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string', minLength: 1 } },
  allOf: [
    whenType('text', { required: ['text'], properties: { text: { type: 'string' } } }),
    whenType('image', {
      required: ['source'],
      properties: {
        source: {
          type: 'object',
          required: ['type'],
          properties: { type: { type: 'string' } },
          allOf: [
            whenType('base64', { required: ['media_type', 'data'], properties: { media_type: { type: 'string' }, data: { type: 'string' } } }),
            whenType('url', { required: ['url'], properties: { url: { type: 'string' } } }),
          ],
        },
      },
    }),
    whenType('tool_use', {
      required: ['id', 'name', 'input'],
      properties: { id: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 }, input: { type: 'object' } },
    }),
    whenType('tool_result', {
      required: ['tool_use_id'],
      properties: {
        tool_use_id: { type: 'string', minLength: 1 },
        content: { type: ['string', 'array'], items: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } } },
        is_error: { type: 'boolean' },
      },
    }),
  ],
}

const textBlock = {
  type: 'object',
  required: ['type', 'text'],
  properties: { type: { const: 'text' }, text: { type: 'string' } },
}

const tool = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    description: { type: 'string' },
    input_schema: { type: 'object' },
    type: { type: 'string' },
  },
  // Custom tools (no type, or type "custom") need an input schema; server tools do not.
  ...when({ not: { required: ['type'] } }, { required: ['input_schema'] }, whenType('custom', { required: ['input_schema'] })),
}

/** The request schema (exported for docs and OpenAPI). */
export const anthropicRequestSchema = {
  type: 'object',
  required: ['model', 'messages', 'max_tokens'],
  properties: {
    model: { type: 'string', minLength: 1 },
    max_tokens: { type: 'integer', minimum: 1 },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role', 'content'],
        properties: { role: { enum: ['user', 'assistant'] }, content: { type: ['string', 'array'], items: block } },
      },
    },
    system: { type: ['string', 'array'], items: textBlock },
    tools: { type: 'array', items: tool },
    tool_choice: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['auto', 'any', 'tool', 'none'] }, name: { type: 'string' }, disable_parallel_tool_use: { type: 'boolean' } },
      ...whenType('tool', { required: ['name'] }),
    },
    stop_sequences: { type: 'array', items: { type: 'string' } },
    temperature: { type: 'number', minimum: 0, maximum: 1 },
    top_p: { type: 'number', minimum: 0, maximum: 1 },
    top_k: { type: 'integer', minimum: 0 },
    stream: { type: 'boolean' },
    metadata: { type: 'object', properties: { user_id: { type: ['string', 'null'] } } },
  },
}

const validate = createAjv({ useDefaults: false }).compile(anthropicRequestSchema)

/** Throws TOLLGATE_ERR_REQUEST_INVALID_BODY naming the field when `body` is not a valid Messages request. */
export function assertAnthropicRequest(body: unknown): void {
  if (validate(body)) return
  const { path, message } = describeAjvErrors(validate.errors)
  throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', message, { field: path })
}
