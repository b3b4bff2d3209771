/**
 * Chat Completions request → canonical request. Runs after schema validation, so shapes are
 * trusted here; what the canonical form does not model goes to `extra` (top-level parameters),
 * opaque parts (audio, files, refusals, unknown message fields) or wire fields (tool `strict`).
 */
import type { CanonicalMessage, CanonicalRequest, ContentPart, ToolChoice, ToolDefinition } from '../../canonical/types.js'
import { attachWireFields, otherFields } from '../wire-fields.js'
import { assertOpenAIChatRequest } from './openai-request-schema.js'
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage, OpenAITool } from './openai-wire.js'

/** Top-level parameters the canonical request models; every other one goes to `extra`. */
const MODELLED = new Set([
  'model',
  'messages',
  'tools',
  'tool_choice',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'stop',
  'stream',
  'stream_options',
  'user',
])

/** Message keys the canonical message models; others are kept in an opaque part. */
const MESSAGE_KEYS = new Set(['role', 'content', 'name', 'tool_calls', 'tool_call_id'])
const FUNCTION_KEYS = new Set(['name', 'description', 'parameters'])
const STREAM_OPTION_KEYS = new Set(['include_usage'])

/** Which max-tokens parameter an OpenAI client used, so a same-protocol upstream gets the same one. */
export interface OpenAIRequestWireFields {
  maxTokensField?: 'max_tokens' | 'max_completion_tokens'
}

/**
 * An opaque OpenAI value that holds message-level fields the canonical message does not model
 * (legacy `function_call`, `audio`, `refusal`, vendor fields like `reasoning_content`). It has no
 * `type` key, which tells it apart from an opaque content part.
 */
export interface OpenAIMessageFields {
  messageFields: Record<string, unknown>
}

/** Validates and decodes a Chat Completions request body. */
export function decodeOpenAIRequest(body: unknown): CanonicalRequest {
  assertOpenAIChatRequest(body)
  const req = body as OpenAIChatRequest
  const messages: CanonicalMessage[] = new Array(req.messages.length)
  for (let i = 0; i < req.messages.length; i++) messages[i] = decodeMessage(req.messages[i])

  const extra: Record<string, unknown> = {}
  for (const key in req) {
    if (!MODELLED.has(key) && Object.hasOwn(req, key) && req[key] !== undefined) extra[key] = req[key]
  }
  if (req.stream_options) {
    const rest = otherFields(req.stream_options, STREAM_OPTION_KEYS)
    if (rest) extra.stream_options = rest
  }

  const out: CanonicalRequest = {
    model: req.model,
    messages,
    stream: req.stream === true,
    includeUsage: req.stream === true && req.stream_options?.include_usage === true,
    protocol: 'openai',
    extra,
  }
  if (req.tools && req.tools.length > 0) out.tools = req.tools.map(decodeTool)
  if (req.tool_choice != null) {
    const choice = decodeToolChoice(req.tool_choice)
    // A tool_choice the canonical form cannot express (e.g. allowed_tools) reaches an OpenAI upstream as sent.
    if (choice) out.toolChoice = choice
    else extra.tool_choice = req.tool_choice
  }
  const maxTokens = req.max_completion_tokens ?? req.max_tokens
  if (maxTokens != null) {
    out.maxTokens = maxTokens
    const fields: OpenAIRequestWireFields = { maxTokensField: req.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens' }
    attachWireFields(out, 'openai', fields as Record<string, unknown>)
  }
  if (req.temperature != null) out.temperature = req.temperature
  if (req.top_p != null) out.topP = req.top_p
  if (req.stop != null) out.stop = typeof req.stop === 'string' ? [req.stop] : req.stop
  if (req.user !== undefined) out.user = req.user
  return out
}

function decodeMessage(message: OpenAIMessage): CanonicalMessage {
  const content: ContentPart[] = []
  let role = message.role as CanonicalMessage['role']
  switch (message.role) {
    case 'system':
    case 'developer':
    case 'user':
      pushContent(content, message.content)
      break
    case 'assistant':
      pushContent(content, message.content)
      if (message.tool_calls) {
        for (const call of message.tool_calls) content.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments })
      }
      break
    case 'tool': {
      const result: ContentPart[] = []
      pushContent(result, message.content)
      content.push({ type: 'tool_result', toolCallId: message.tool_call_id as string, content: result })
      break
    }
    case 'function': {
      // Legacy function result: a tool result without a call id, named by the function.
      const result: ContentPart[] = []
      pushContent(result, message.content)
      content.push({ type: 'tool_result', toolCallId: '', content: result })
      role = 'tool'
      break
    }
  }
  const rest = otherFields(message, MESSAGE_KEYS)
  if (rest) {
    const value: OpenAIMessageFields = { messageFields: rest }
    content.push({ type: 'opaque', protocol: 'openai', value })
  }
  const out: CanonicalMessage = { role, content }
  if (message.name !== undefined) out.name = message.name
  return out
}

function pushContent(out: ContentPart[], content: OpenAIMessage['content']): void {
  if (content == null) return
  if (typeof content === 'string') {
    out.push({ type: 'text', text: content })
    return
  }
  for (const part of content) out.push(decodePart(part))
}

function decodePart(part: OpenAIContentPart): ContentPart {
  if (part.type === 'text') return { type: 'text', text: part.text as string }
  if (part.type === 'image_url' && part.image_url) {
    const image: ContentPart = { type: 'image', url: part.image_url.url }
    if (part.image_url.detail !== undefined) image.detail = part.image_url.detail
    return image
  }
  return { type: 'opaque', protocol: 'openai', value: part }
}

function decodeTool(tool: OpenAITool): ToolDefinition {
  if (tool.type === 'function' && tool.function) {
    const fn = tool.function
    const out: ToolDefinition = { name: fn.name }
    if (fn.description !== undefined) out.description = fn.description
    if (fn.parameters !== undefined) out.parameters = fn.parameters
    const rest = otherFields(fn, FUNCTION_KEYS)
    return attachWireFields(out, 'openai', rest && { function: rest })
  }
  // A non-function tool (for example `custom`): kept whole for an OpenAI upstream.
  const inner = tool[tool.type] as { name?: string; description?: string } | undefined
  const out: ToolDefinition = { name: inner?.name ?? tool.type }
  if (inner?.description !== undefined) out.description = inner.description
  return attachWireFields(out, 'openai', { tool })
}

function decodeToolChoice(choice: NonNullable<OpenAIChatRequest['tool_choice']>): ToolChoice | undefined {
  if (typeof choice === 'string') return choice as ToolChoice
  if (choice.type === 'function' && choice.function) return { name: choice.function.name }
  const inner = choice[choice.type] as { name?: string } | undefined
  return typeof inner?.name === 'string' ? { name: inner.name } : undefined
}
