/**
 * JSON Schema of the Chat Completions request as Tollgate accepts it, compiled once at module
 * load. It checks the fields Tollgate models (messages, tools, sampling, streaming) and lets every
 * other parameter through, so new OpenAI parameters reach the upstream without a gateway release.
 */
import type { ErrorObject } from 'ajv'
import { TollgateError } from '../../errors/tollgate-error.js'
import { createAjv, describeAjvErrors } from '../../util/ajv.js'
import { when, whenType } from '../json-schema-helpers.js'

const nullable = (type: string) => ({ type: [type, 'null'] })

const textPart = {
  type: 'object',
  required: ['type', 'text'],
  properties: { type: { const: 'text' }, text: { type: 'string' } },
}

/** system, developer and tool content: a string or text parts. */
const textContent = { type: ['string', 'array'], items: textPart }

const userPart = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string', minLength: 1 } },
  allOf: [
    whenType('text', { required: ['text'], properties: { text: { type: 'string' } } }),
    whenType('image_url', {
      required: ['image_url'],
      properties: {
        image_url: { type: 'object', required: ['url'], properties: { url: { type: 'string', minLength: 1 }, detail: { type: 'string' } } },
      },
    }),
    whenType('input_audio', { required: ['input_audio'], properties: { input_audio: { type: 'object' } } }),
    whenType('file', { required: ['file'], properties: { file: { type: 'object' } } }),
  ],
}

const assistantPart = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string', minLength: 1 } },
  allOf: [
    whenType('text', { required: ['text'], properties: { text: { type: 'string' } } }),
    whenType('refusal', { required: ['refusal'], properties: { refusal: { type: 'string' } } }),
  ],
}

const toolCall = {
  type: 'object',
  required: ['id', 'function'],
  properties: {
    id: { type: 'string' },
    type: { const: 'function' },
    function: {
      type: 'object',
      required: ['name', 'arguments'],
      properties: { name: { type: 'string', minLength: 1 }, arguments: { type: 'string' } },
    },
  },
}

const name = { type: 'string' }

const message = {
  type: 'object',
  discriminator: { propertyName: 'role' },
  required: ['role'],
  oneOf: [
    { properties: { role: { const: 'system' }, content: textContent, name }, required: ['content'] },
    { properties: { role: { const: 'developer' }, content: textContent, name }, required: ['content'] },
    { properties: { role: { const: 'user' }, content: { type: ['string', 'array'], items: userPart }, name }, required: ['content'] },
    {
      properties: {
        role: { const: 'assistant' },
        content: { type: ['string', 'array', 'null'], items: assistantPart },
        name,
        tool_calls: { type: ['array', 'null'], items: toolCall },
        function_call: nullable('object'),
        refusal: nullable('string'),
      },
    },
    {
      properties: { role: { const: 'tool' }, content: textContent, tool_call_id: { type: 'string', minLength: 1 } },
      required: ['content', 'tool_call_id'],
    },
    { properties: { role: { const: 'function' }, content: nullable('string'), name: { type: 'string', minLength: 1 } }, required: ['name'] },
  ],
}

const tool = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string', minLength: 1 } },
  allOf: [
    whenType('function', {
      required: ['function'],
      properties: {
        function: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 128 },
            description: { type: 'string' },
            parameters: { type: 'object' },
            strict: nullable('boolean'),
          },
        },
      },
    }),
  ],
}

const toolChoice = {
  type: ['string', 'object'],
  ...when(
    { type: 'string' },
    { enum: ['none', 'auto', 'required'] },
    {
      required: ['type'],
      properties: { type: { type: 'string' } },
      allOf: [
        whenType('function', {
          required: ['function'],
          properties: { function: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } } },
        }),
      ],
    },
  ),
}

/** The request schema (exported for docs and OpenAPI). */
export const openAIChatRequestSchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1 },
    messages: { type: 'array', minItems: 1, items: message },
    tools: { type: ['array', 'null'], items: tool },
    tool_choice: toolChoice,
    max_tokens: { type: ['integer', 'null'], minimum: 1 },
    max_completion_tokens: { type: ['integer', 'null'], minimum: 1 },
    temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
    top_p: { type: ['number', 'null'], minimum: 0, maximum: 1 },
    stop: { type: ['string', 'array', 'null'], items: { type: 'string' } },
    stream: nullable('boolean'),
    stream_options: { type: ['object', 'null'], properties: { include_usage: nullable('boolean') } },
    user: { type: 'string' },
    n: { type: ['integer', 'null'], minimum: 1 },
  },
}

const validate = createAjv({ discriminator: true, useDefaults: false }).compile(openAIChatRequestSchema)

const ROLES = '"system", "developer", "user", "assistant", "tool", "function"'

/** The first validation error as "<field> <what is wrong>", with the discriminator's error made readable. */
function describe(errors: ErrorObject[] | null | undefined): { path: string; message: string } {
  const first = errors?.[0]
  if (first?.keyword === 'discriminator') {
    const described = describeAjvErrors([{ ...first, message: '' }])
    const path = `${described.path === '(root)' ? '' : described.path}.role`.replace(/^\./, '')
    return { path, message: `${path} must be one of ${ROLES}` }
  }
  return describeAjvErrors(errors)
}

/** Throws TOLLGATE_ERR_REQUEST_INVALID_BODY naming the field when `body` is not a valid Chat Completions request. */
export function assertOpenAIChatRequest(body: unknown): void {
  if (validate(body)) return
  const { path, message } = describe(validate.errors)
  throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', message, { field: path })
}
