/**
 * Messages request → canonical request. The top-level `system` becomes a leading system message;
 * tool results stay inside the user message they came in (canonical allows that; an OpenAI
 * upstream splits them out). `cache_control`, `citations` and similar block fields ride along
 * as wire fields so an Anthropic upstream gets them back; thinking, documents and other blocks
 * the canonical form does not model are kept as opaque parts, in order.
 */
import type { CanonicalMessage, CanonicalRequest, ContentPart, ToolChoice, ToolDefinition } from '../../canonical/types.js'
import { attachWireFields, otherFields } from '../wire-fields.js'
import { assertAnthropicRequest } from './anthropic-request-schema.js'
import type { AnthropicBlock, AnthropicRequest, AnthropicTool, AnthropicToolChoice } from './anthropic-wire.js'

const MODELLED = new Set(['model', 'messages', 'max_tokens', 'system', 'tools', 'tool_choice', 'stop_sequences', 'temperature', 'top_p', 'stream'])
const TEXT_KEYS = new Set(['type', 'text'])
const IMAGE_KEYS = new Set(['type', 'source'])
const TOOL_USE_KEYS = new Set(['type', 'id', 'name', 'input'])
const TOOL_RESULT_KEYS = new Set(['type', 'tool_use_id', 'content', 'is_error'])
const TOOL_KEYS = new Set(['name', 'description', 'input_schema'])

/** Validates and decodes a Messages request body. */
export function decodeAnthropicRequest(body: unknown): CanonicalRequest {
  assertAnthropicRequest(body)
  const req = body as AnthropicRequest
  const messages: CanonicalMessage[] = []
  if (req.system !== undefined) {
    const content: ContentPart[] = typeof req.system === 'string' ? [{ type: 'text', text: req.system }] : req.system.map(decodeBlock)
    messages.push({ role: 'system', content })
  }
  for (const message of req.messages) {
    messages.push({
      role: message.role,
      content: typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content.map(decodeBlock),
    })
  }

  const extra: Record<string, unknown> = {}
  for (const key in req) {
    if (!MODELLED.has(key) && Object.hasOwn(req, key) && req[key] !== undefined) extra[key] = req[key]
  }

  const stream = req.stream === true
  const out: CanonicalRequest = {
    model: req.model,
    messages,
    maxTokens: req.max_tokens,
    stream,
    // Anthropic streams always carry usage.
    includeUsage: stream,
    protocol: 'anthropic',
    extra,
  }
  if (req.tools && req.tools.length > 0) out.tools = req.tools.map(decodeTool)
  if (req.tool_choice) {
    out.toolChoice = decodeToolChoice(req.tool_choice)
    if (req.tool_choice.disable_parallel_tool_use !== undefined) extra.disable_parallel_tool_use = req.tool_choice.disable_parallel_tool_use
  }
  if (req.stop_sequences && req.stop_sequences.length > 0) out.stop = req.stop_sequences
  if (req.temperature !== undefined) out.temperature = req.temperature
  if (req.top_p !== undefined) out.topP = req.top_p
  if (typeof req.metadata?.user_id === 'string') out.user = req.metadata.user_id
  return out
}

/** Decodes one content block (also used for tool_result content and response content). */
export function decodeAnthropicBlock(block: AnthropicBlock): ContentPart {
  return decodeBlock(block)
}

function decodeBlock(block: AnthropicBlock): ContentPart {
  switch (block.type) {
    case 'text':
      return attachWireFields({ type: 'text', text: block.text as string }, 'anthropic', otherFields(block, TEXT_KEYS))
    case 'image': {
      const source = block.source
      let image: ContentPart | undefined
      if (source?.type === 'base64') image = { type: 'image', mediaType: source.media_type, data: source.data }
      else if (source?.type === 'url') image = { type: 'image', url: source.url }
      if (image) return attachWireFields(image, 'anthropic', otherFields(block, IMAGE_KEYS))
      break
    }
    case 'tool_use':
      return attachWireFields(
        { type: 'tool_call', id: block.id as string, name: block.name as string, arguments: JSON.stringify(block.input ?? {}) },
        'anthropic',
        otherFields(block, TOOL_USE_KEYS),
      )
    case 'tool_result': {
      const content: ContentPart[] =
        block.content === undefined ? [] : typeof block.content === 'string' ? [{ type: 'text', text: block.content }] : block.content.map(decodeBlock)
      const part: ContentPart = { type: 'tool_result', toolCallId: block.tool_use_id as string, content }
      if (block.is_error !== undefined) part.isError = block.is_error
      return attachWireFields(part, 'anthropic', otherFields(block, TOOL_RESULT_KEYS))
    }
  }
  return { type: 'opaque', protocol: 'anthropic', value: block }
}

function decodeTool(tool: AnthropicTool): ToolDefinition {
  const out: ToolDefinition = { name: tool.name }
  if (tool.description !== undefined) out.description = tool.description
  if (tool.input_schema !== undefined) out.parameters = tool.input_schema
  return attachWireFields(out, 'anthropic', otherFields(tool, TOOL_KEYS))
}

function decodeToolChoice(choice: AnthropicToolChoice): ToolChoice {
  switch (choice.type) {
    case 'any':
      return 'required'
    case 'none':
      return 'none'
    case 'tool':
      return { name: choice.name as string }
    default:
      return 'auto'
  }
}
