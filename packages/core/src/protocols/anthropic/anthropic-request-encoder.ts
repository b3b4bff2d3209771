/**
 * Canonical request → Messages body for an Anthropic upstream. A request from an Anthropic
 * client gets its parameters, opaque blocks and block fields (cache_control…) back. A request
 * from an OpenAI client is translated: system and developer messages become the top-level
 * `system`, tool messages become user `tool_result` blocks, assistant tool calls become
 * `tool_use` blocks with the parsed arguments, consecutive same-role messages are merged, and
 * max_tokens gets a default when the client sent none.
 */
import type { CanonicalMessage, CanonicalRequest, ContentPart, ToolChoice, ToolDefinition } from '../../canonical/types.js'
import { wireFields } from '../wire-fields.js'
import type { AnthropicBlock, AnthropicMessage, AnthropicRequest, AnthropicTool, AnthropicToolChoice } from './anthropic-wire.js'
import { DEFAULT_ANTHROPIC_MAX_TOKENS } from './anthropic-wire.js'

/** Options of the encoding. */
export interface EncodeAnthropicRequestOptions {
  /** The model name sent upstream. */
  model: string
  /** max_tokens when the request has none (it is required by the Messages API). */
  defaultMaxTokens?: number
}

/** Builds the Messages body for an upstream call. */
export function encodeAnthropicRequest(request: CanonicalRequest, options: EncodeAnthropicRequestOptions): AnthropicRequest {
  const same = request.protocol === 'anthropic'
  const system: AnthropicBlock[] = []
  const messages: { role: 'user' | 'assistant'; blocks: AnthropicBlock[] }[] = []
  for (const message of request.messages) {
    if (message.role === 'system' || message.role === 'developer') {
      for (const part of message.content) {
        if (part.type === 'text') system.push(textBlock(part))
        else if (part.type === 'opaque' && part.protocol === 'anthropic') system.push(part.value as AnthropicBlock)
      }
      continue
    }
    const role = message.role === 'assistant' ? 'assistant' : 'user'
    const blocks = encodeBlocks(message, same)
    if (blocks.length === 0) continue
    const last = messages[messages.length - 1]
    if (last && last.role === role) last.blocks.push(...blocks)
    else messages.push({ role, blocks })
  }

  const body: AnthropicRequest = { model: options.model, messages: [], max_tokens: request.maxTokens ?? options.defaultMaxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS }
  if (same) {
    for (const key in request.extra) {
      if (key !== 'disable_parallel_tool_use' && Object.hasOwn(request.extra, key)) body[key] = request.extra[key]
    }
    body.model = options.model
  }
  body.messages = messages.map(finishMessage(same))
  if (system.length > 0) body.system = system.length === 1 && isPlainText(system[0]) ? (system[0].text as string) : system

  if (request.tools && request.tools.length > 0) {
    const tools: AnthropicTool[] = []
    for (const tool of request.tools) {
      const encoded = encodeTool(tool)
      if (encoded) tools.push(encoded)
    }
    if (tools.length > 0) body.tools = tools
  }
  if (body.tools) {
    const disableParallel = same ? request.extra.disable_parallel_tool_use === true : request.extra.parallel_tool_calls === false
    if (request.toolChoice !== undefined || disableParallel) {
      const choice = encodeToolChoice(request.toolChoice ?? 'auto')
      if (disableParallel && choice.type !== 'none') choice.disable_parallel_tool_use = true
      body.tool_choice = choice
    }
  }
  if (request.stop !== undefined && request.stop.length > 0) body.stop_sequences = request.stop
  if (request.temperature !== undefined) body.temperature = request.temperature
  if (request.topP !== undefined) body.top_p = request.topP
  if (request.user !== undefined && body.metadata === undefined) body.metadata = { user_id: request.user }
  if (request.stream) body.stream = true
  else delete body.stream
  return body
}

/** Turns collected blocks into a message; a lone plain text block becomes a string. */
function finishMessage(same: boolean): (message: { role: 'user' | 'assistant'; blocks: AnthropicBlock[] }) => AnthropicMessage {
  return ({ role, blocks }) => {
    if (blocks.length === 1 && isPlainText(blocks[0])) return { role, content: blocks[0].text as string }
    if (!same && role === 'user') {
      // The Messages API wants tool results before anything else in a user turn.
      const results = blocks.filter((b) => b.type === 'tool_result')
      if (results.length > 0 && results.length < blocks.length) blocks = [...results, ...blocks.filter((b) => b.type !== 'tool_result')]
    }
    return { role, content: blocks }
  }
}

function encodeBlocks(message: CanonicalMessage, same: boolean): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = []
  for (const part of message.content) {
    const block = encodePart(part, same)
    if (block) blocks.push(block)
  }
  return blocks
}

function encodePart(part: ContentPart, same: boolean): AnthropicBlock | undefined {
  switch (part.type) {
    case 'text':
      // The Messages API rejects empty text blocks, which OpenAI clients send next to tool calls.
      if (part.text.length === 0 && !same) return undefined
      return textBlock(part)
    case 'image':
      return { type: 'image', source: imageSource(part), ...wireFields(part, 'anthropic') }
    case 'tool_call':
      return { type: 'tool_use', id: part.id, name: part.name, input: parseArguments(part.arguments), ...wireFields(part, 'anthropic') }
    case 'tool_result': {
      const block: AnthropicBlock = { type: 'tool_result', tool_use_id: part.toolCallId }
      const inner: AnthropicBlock[] = []
      for (const p of part.content) {
        const b = encodePart(p, same)
        if (b && b.type !== 'tool_result') inner.push(b)
      }
      if (inner.length === 1 && isPlainText(inner[0])) block.content = inner[0].text as string
      else if (inner.length > 0) block.content = inner
      if (part.isError !== undefined) block.is_error = part.isError
      return Object.assign(block, wireFields(part, 'anthropic'))
    }
    case 'opaque':
      return part.protocol === 'anthropic' ? (part.value as AnthropicBlock) : undefined
  }
}

function textBlock(part: Extract<ContentPart, { type: 'text' }>): AnthropicBlock {
  const fields = wireFields(part, 'anthropic')
  return fields ? { type: 'text', text: part.text, ...fields } : { type: 'text', text: part.text }
}

function isPlainText(block: AnthropicBlock): boolean {
  if (block.type !== 'text') return false
  for (const key in block) if (key !== 'type' && key !== 'text') return false
  return true
}

/** `data:<media type>;base64,<data>` URLs become base64 sources; other URLs stay URLs. */
const DATA_URL = /^data:([^;,]+);base64,/

function imageSource(part: Extract<ContentPart, { type: 'image' }>): NonNullable<AnthropicBlock['source']> {
  if (part.data !== undefined) return { type: 'base64', media_type: part.mediaType ?? 'image/png', data: part.data }
  const url = part.url ?? ''
  const match = DATA_URL.exec(url)
  if (match) return { type: 'base64', media_type: match[1], data: url.slice(match[0].length) }
  return { type: 'url', url }
}

/** Tool-call arguments as the object the Messages API wants (`{}` when empty or not an object). */
function parseArguments(text: string): Record<string, unknown> {
  if (text.length === 0) return {}
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function encodeTool(tool: ToolDefinition): AnthropicTool | undefined {
  // Non-function OpenAI tools (custom grammars) have no Messages equivalent.
  if (wireFields(tool, 'openai')?.tool) return undefined
  const fields = wireFields(tool, 'anthropic')
  const out: AnthropicTool = { name: tool.name }
  if (tool.description !== undefined) out.description = tool.description
  const serverTool = typeof fields?.type === 'string' && fields.type !== 'custom'
  if (tool.parameters !== undefined) out.input_schema = tool.parameters
  else if (!serverTool) out.input_schema = { type: 'object', properties: {} }
  return fields ? { ...fields, ...out } : out
}

function encodeToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (choice === 'required') return { type: 'any' }
  if (choice === 'none') return { type: 'none' }
  if (choice === 'auto') return { type: 'auto' }
  return { type: 'tool', name: choice.name }
}
