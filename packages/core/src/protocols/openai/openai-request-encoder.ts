/**
 * Canonical request → Chat Completions body, for OpenAI and OpenAI-compatible upstreams. A
 * request decoded from an OpenAI client gets its unmodelled parameters (`extra`), opaque parts
 * and wire fields back; a request from an Anthropic client is translated (tool results in user
 * messages become `tool` messages, base64 images become data URLs).
 */
import type { CanonicalMessage, CanonicalRequest, ContentPart, ToolChoice, ToolDefinition } from '../../canonical/types.js'
import { wireFields } from '../wire-fields.js'
import type { OpenAIMessageFields, OpenAIRequestWireFields } from './openai-request-decoder.js'
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage, OpenAITool, OpenAIToolCall } from './openai-wire.js'

/** Options of the encoding. */
export interface EncodeOpenAIRequestOptions {
  /** The model name sent upstream. */
  model: string
  /** Ask for the final usage chunk on streams (the client-side encoder strips it when the client did not ask). Default true. */
  forceIncludeUsage?: boolean
}

/** Builds the Chat Completions body for an upstream call. */
export function encodeOpenAIRequest(request: CanonicalRequest, options: EncodeOpenAIRequestOptions): OpenAIChatRequest {
  const same = request.protocol === 'openai'
  const body: OpenAIChatRequest = { model: options.model, messages: encodeMessages(request.messages, same) }
  if (same) Object.assign(body, request.extra)
  body.model = options.model

  if (request.tools && request.tools.length > 0) {
    const tools: OpenAITool[] = []
    for (const tool of request.tools) {
      const encoded = encodeTool(tool, same)
      if (encoded) tools.push(encoded)
    }
    if (tools.length > 0) body.tools = tools
  }
  if (request.toolChoice !== undefined && (body.tools || request.toolChoice === 'none')) body.tool_choice = encodeToolChoice(request.toolChoice, request.tools)
  if (!same && request.extra.disable_parallel_tool_use === true && body.tools) body.parallel_tool_calls = false

  if (request.maxTokens !== undefined) {
    const field = (same ? (wireFields(request, 'openai') as OpenAIRequestWireFields | undefined)?.maxTokensField : undefined) ?? 'max_completion_tokens'
    body[field] = request.maxTokens
  }
  if (request.temperature !== undefined) body.temperature = request.temperature
  if (request.topP !== undefined) body.top_p = request.topP
  if (request.stop !== undefined && request.stop.length > 0) body.stop = request.stop
  if (request.user !== undefined) body.user = request.user
  if (request.stream) {
    body.stream = true
    const include = options.forceIncludeUsage !== false || request.includeUsage
    const rest = same ? (request.extra.stream_options as Record<string, unknown> | undefined) : undefined
    if (include || rest) body.stream_options = { ...rest, ...(include ? { include_usage: true } : {}) }
  } else {
    delete body.stream
    delete body.stream_options
  }
  return body
}

function encodeMessages(messages: CanonicalMessage[], same: boolean): OpenAIMessage[] {
  const out: OpenAIMessage[] = []
  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer':
      case 'user':
        encodeUserLike(message, out, same)
        break
      case 'assistant':
        out.push(encodeAssistant(message, same))
        break
      case 'tool':
        for (const part of message.content) {
          if (part.type === 'tool_result') out.push(encodeToolResult(part, message.name))
          else if (part.type === 'opaque' && same) mergeMessageFields(out[out.length - 1], part.value)
        }
        break
    }
  }
  return out
}

/** system, developer and user messages; tool results inside a user message (Anthropic style) become tool messages first. */
function encodeUserLike(message: CanonicalMessage, out: OpenAIMessage[], same: boolean): void {
  const parts: OpenAIContentPart[] = []
  let fields: Record<string, unknown> | undefined
  let plainText = true
  for (const part of message.content) {
    switch (part.type) {
      case 'text':
        parts.push({ type: 'text', text: part.text })
        break
      case 'image':
        parts.push({ type: 'image_url', image_url: imageUrl(part) })
        plainText = false
        break
      case 'tool_result':
        out.push(encodeToolResult(part))
        break
      case 'opaque':
        if (part.protocol !== 'openai') break
        if (isMessageFields(part.value)) fields = { ...fields, ...part.value.messageFields }
        else {
          parts.push(part.value as OpenAIContentPart)
          plainText = false
        }
        break
      case 'tool_call':
        break
    }
  }
  if (parts.length === 0 && fields === undefined) return
  const encoded: OpenAIMessage = { role: message.role as OpenAIMessage['role'], content: plainText && parts.length === 1 ? (parts[0].text as string) : parts }
  if (message.name !== undefined) encoded.name = message.name
  if (fields && same) Object.assign(encoded, fields)
  out.push(encoded)
}

function encodeAssistant(message: CanonicalMessage, same: boolean): OpenAIMessage {
  const texts: OpenAIContentPart[] = []
  let calls: OpenAIToolCall[] | undefined
  let fields: Record<string, unknown> | undefined
  let plainText = true
  for (const part of message.content) {
    if (part.type === 'text') {
      if (part.text.length > 0 || same) texts.push({ type: 'text', text: part.text })
    } else if (part.type === 'tool_call') {
      calls ??= []
      calls.push({ id: part.id, type: 'function', function: { name: part.name, arguments: part.arguments } })
    }
    else if (part.type === 'opaque' && part.protocol === 'openai' && same) {
      if (isMessageFields(part.value)) fields = { ...fields, ...part.value.messageFields }
      else {
        texts.push(part.value as OpenAIContentPart)
        plainText = false
      }
    }
  }
  let content: OpenAIMessage['content'] = null
  if (texts.length === 1 && plainText) content = texts[0].text as string
  else if (texts.length > 0) content = plainText ? texts.map((t) => t.text).join('') : texts
  const encoded: OpenAIMessage = { role: 'assistant', content }
  if (message.name !== undefined) encoded.name = message.name
  if (calls) encoded.tool_calls = calls
  if (fields) Object.assign(encoded, fields)
  return encoded
}

function encodeToolResult(part: Extract<ContentPart, { type: 'tool_result' }>, name?: string): OpenAIMessage {
  let text = ''
  let parts: OpenAIContentPart[] | undefined
  for (const inner of part.content) {
    if (inner.type !== 'text') continue
    if (text.length > 0 || parts) {
      parts ??= [{ type: 'text', text }]
      parts.push({ type: 'text', text: inner.text })
    } else text = inner.text
  }
  if (part.toolCallId === '' && name !== undefined) return { role: 'function', name, content: text }
  return { role: 'tool', tool_call_id: part.toolCallId, content: parts ?? text }
}

function imageUrl(part: Extract<ContentPart, { type: 'image' }>): { url: string; detail?: string } {
  const url = part.url ?? `data:${part.mediaType ?? 'image/png'};base64,${part.data ?? ''}`
  return part.detail !== undefined ? { url, detail: part.detail } : { url }
}

function encodeTool(tool: ToolDefinition, same: boolean): OpenAITool | undefined {
  const fields = wireFields(tool, 'openai')
  if (same && fields?.tool) return fields.tool as OpenAITool
  const anthropic = wireFields(tool, 'anthropic')
  // Anthropic server tools (web search, code execution…) have no OpenAI equivalent.
  if (anthropic && typeof anthropic.type === 'string' && anthropic.type !== 'custom') return undefined
  const fn: NonNullable<OpenAITool['function']> = { ...(same ? (fields?.function as Record<string, unknown> | undefined) : undefined), name: tool.name }
  if (tool.description !== undefined) fn.description = tool.description
  if (tool.parameters !== undefined) fn.parameters = tool.parameters
  return { type: 'function', function: fn }
}

function encodeToolChoice(choice: ToolChoice, tools: ToolDefinition[] | undefined): OpenAIChatRequest['tool_choice'] {
  if (typeof choice === 'string') return choice
  const tool = tools?.find((t) => t.name === choice.name)
  const raw = tool ? (wireFields(tool, 'openai')?.tool as OpenAITool | undefined) : undefined
  if (raw && raw.type !== 'function') return { type: raw.type, [raw.type]: { name: choice.name } }
  return { type: 'function', function: { name: choice.name } }
}

function isMessageFields(value: unknown): value is OpenAIMessageFields {
  return typeof value === 'object' && value !== null && 'messageFields' in value && !('type' in value)
}

function mergeMessageFields(target: OpenAIMessage | undefined, value: unknown): void {
  if (target && isMessageFields(value)) Object.assign(target, value.messageFields)
}
