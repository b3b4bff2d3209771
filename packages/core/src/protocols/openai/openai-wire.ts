/**
 * The parts of the OpenAI Chat Completions wire format that Tollgate reads and writes. Fields
 * Tollgate does not model are kept as they are (`extra`, opaque parts, patched raw bodies).
 */
import type { FinishReason, Usage } from '../../canonical/types.js'

/** A content part of a Chat Completions message. */
export interface OpenAIContentPart {
  type: string
  text?: string
  image_url?: { url: string; detail?: string }
  [key: string]: unknown
}

/** A tool call in an assistant message or a response. */
export interface OpenAIToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

/** A Chat Completions request message. */
export interface OpenAIMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function'
  content?: string | OpenAIContentPart[] | null
  name?: string
  tool_calls?: OpenAIToolCall[]
  tool_call_id?: string
  [key: string]: unknown
}

/** A tool of a Chat Completions request. */
export interface OpenAITool {
  type: string
  function?: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null; [key: string]: unknown }
  [key: string]: unknown
}

/** A Chat Completions request body. */
export interface OpenAIChatRequest {
  model: string
  messages: OpenAIMessage[]
  tools?: OpenAITool[]
  tool_choice?: string | { type: string; function?: { name: string }; [key: string]: unknown }
  max_tokens?: number | null
  max_completion_tokens?: number | null
  temperature?: number | null
  top_p?: number | null
  stop?: string | string[] | null
  stream?: boolean | null
  stream_options?: { include_usage?: boolean; [key: string]: unknown } | null
  user?: string
  [key: string]: unknown
}

/** The `usage` object of a response or of the last stream chunk. */
export interface OpenAIUsage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details?: { cached_tokens?: number; [key: string]: unknown } | null
  completion_tokens_details?: Record<string, unknown> | null
  [key: string]: unknown
}

/** A `chat.completion` response body. */
export interface OpenAIChatResponse {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: {
    index: number
    message: { role: 'assistant'; content: string | null; tool_calls?: OpenAIToolCall[]; refusal?: string | null; [key: string]: unknown }
    finish_reason: string | null
    logprobs?: unknown
    [key: string]: unknown
  }[]
  usage?: OpenAIUsage | null
  system_fingerprint?: string | null
  [key: string]: unknown
}

/** A tool-call delta of a stream chunk. */
export interface OpenAIToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function?: { name?: string; arguments?: string }
}

/** A `chat.completion.chunk` stream chunk. */
export interface OpenAIChatChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: {
    index: number
    delta: { role?: string; content?: string | null; tool_calls?: OpenAIToolCallDelta[]; refusal?: string | null; [key: string]: unknown }
    finish_reason: string | null
    logprobs?: unknown
  }[]
  usage?: OpenAIUsage | null
  system_fingerprint?: string | null
  error?: { message?: string; type?: string; code?: string | null }
  [key: string]: unknown
}

/** Canonical finish reason of an OpenAI `finish_reason`. */
export function finishReasonFromOpenAI(reason: string | null | undefined): FinishReason | null {
  switch (reason) {
    case null:
    case undefined:
      return null
    case 'stop':
      return 'stop'
    case 'length':
      return 'length'
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls'
    case 'content_filter':
      return 'content_filter'
    default:
      return 'stop'
  }
}

/** OpenAI `finish_reason` of a canonical finish reason. */
export function finishReasonToOpenAI(reason: FinishReason | null): string | null {
  if (reason === 'error') return 'stop'
  return reason
}

/** Canonical usage of an OpenAI `usage` object (prompt_tokens already includes cached tokens). */
export function usageFromOpenAI(usage: OpenAIUsage): Usage {
  return {
    inputTokens: usage.prompt_tokens ?? 0,
    outputTokens: usage.completion_tokens ?? 0,
    cachedReadTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: 0,
    estimated: false,
  }
}

/** An OpenAI `usage` object of canonical usage, keeping other fields of `base` (a raw usage object). */
export function usageToOpenAI(usage: Usage, base?: OpenAIUsage | null): OpenAIUsage {
  return {
    ...base,
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { ...base?.prompt_tokens_details, cached_tokens: usage.cachedReadTokens },
  }
}
