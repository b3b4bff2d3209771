/**
 * The parts of the Anthropic Messages wire format that Tollgate reads and writes. Blocks and
 * parameters Tollgate does not model are kept as they are (opaque parts, wire fields, `extra`).
 */
import type { FinishReason, Usage } from '../../canonical/types.js'

/** A content block of a request or response message. */
export interface AnthropicBlock {
  type: string
  text?: string
  source?: { type: string; media_type?: string; data?: string; url?: string; [key: string]: unknown }
  id?: string
  name?: string
  input?: unknown
  tool_use_id?: string
  content?: string | AnthropicBlock[]
  is_error?: boolean
  [key: string]: unknown
}

/** A request message. */
export interface AnthropicMessage {
  role: 'user' | 'assistant'
  content: string | AnthropicBlock[]
}

/** A tool of a request (custom tools have input_schema; server tools have a versioned `type`). */
export interface AnthropicTool {
  name: string
  description?: string
  input_schema?: Record<string, unknown>
  type?: string
  [key: string]: unknown
}

/** A tool_choice of a request. */
export interface AnthropicToolChoice {
  type: 'auto' | 'any' | 'tool' | 'none'
  name?: string
  disable_parallel_tool_use?: boolean
}

/** A Messages request body. */
export interface AnthropicRequest {
  model: string
  messages: AnthropicMessage[]
  max_tokens: number
  system?: string | AnthropicBlock[]
  tools?: AnthropicTool[]
  tool_choice?: AnthropicToolChoice
  stop_sequences?: string[]
  temperature?: number
  top_p?: number
  top_k?: number
  stream?: boolean
  metadata?: { user_id?: string | null; [key: string]: unknown }
  [key: string]: unknown
}

/** The usage object of a message (input_tokens EXCLUDES cache reads and writes). */
export interface AnthropicUsage {
  input_tokens?: number | null
  output_tokens?: number | null
  cache_read_input_tokens?: number | null
  cache_creation_input_tokens?: number | null
  [key: string]: unknown
}

/** A Messages response body. */
export interface AnthropicResponse {
  id: string
  type: 'message'
  role: 'assistant'
  model: string
  content: AnthropicBlock[]
  stop_reason: string | null
  stop_sequence: string | null
  usage: AnthropicUsage
  [key: string]: unknown
}

/** Canonical finish reason of an Anthropic `stop_reason`. */
export function finishReasonFromAnthropic(reason: string | null | undefined): FinishReason | null {
  switch (reason) {
    case null:
    case undefined:
      return null
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length'
    case 'tool_use':
      return 'tool_calls'
    case 'refusal':
      return 'content_filter'
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop'
  }
}

/** Anthropic `stop_reason` of a canonical finish reason. */
export function finishReasonToAnthropic(reason: FinishReason | null): string | null {
  switch (reason) {
    case null:
      return null
    case 'length':
      return 'max_tokens'
    case 'tool_calls':
      return 'tool_use'
    case 'content_filter':
      return 'refusal'
    default:
      return 'end_turn'
  }
}

/** Canonical usage of Anthropic usage: canonical inputTokens INCLUDES cache reads and writes. */
export function usageFromAnthropic(usage: AnthropicUsage): Usage {
  const read = usage.cache_read_input_tokens ?? 0
  const write = usage.cache_creation_input_tokens ?? 0
  return {
    inputTokens: (usage.input_tokens ?? 0) + read + write,
    outputTokens: usage.output_tokens ?? 0,
    cachedReadTokens: read,
    cacheWriteTokens: write,
    estimated: false,
  }
}

/** Anthropic usage of canonical usage (input_tokens without cache reads and writes), keeping other fields of `base`. */
export function usageToAnthropic(usage: Usage, base?: AnthropicUsage): AnthropicUsage {
  return {
    ...base,
    input_tokens: Math.max(0, usage.inputTokens - usage.cachedReadTokens - usage.cacheWriteTokens),
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedReadTokens,
    output_tokens: usage.outputTokens,
  }
}

/** The Anthropic API version sent when neither the client nor the provider config names one. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01'

/** Default max_tokens for a request translated from a protocol where it is optional. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096
