/**
 * The canonical request, response and stream shapes. Every client protocol (OpenAI Chat
 * Completions, Anthropic Messages) is decoded into these, and every provider encodes from them,
 * so plugins see one shape whichever API the client spoke.
 */

/** Which wire protocol a client or an upstream speaks. */
export type WireProtocol = 'openai' | 'anthropic'

/** One piece of a message's content. */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image'; url?: string; mediaType?: string; data?: string; detail?: string }
  /** A tool call made by the assistant; `arguments` is the raw JSON text the model produced. */
  | { type: 'tool_call'; id: string; name: string; arguments: string }
  /** The result of a tool call, sent back by the client. */
  | { type: 'tool_result'; toolCallId: string; content: ContentPart[]; isError?: boolean }
  /** Protocol-specific content the canonical shape does not model (kept for same-protocol pass-through). */
  | { type: 'opaque'; protocol: WireProtocol; value: unknown }

/** Roles in the canonical conversation. Anthropic's top-level `system` becomes a `system` message. */
export type MessageRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool'

/** A message of the conversation. */
export interface CanonicalMessage {
  role: MessageRole
  content: ContentPart[]
  name?: string
}

/** A tool the model may call. `parameters` is its JSON Schema. */
export interface ToolDefinition {
  name: string
  description?: string
  parameters?: Record<string, unknown>
}

/** How the model should choose tools. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string }

/** The canonical chat request. */
export interface CanonicalRequest {
  /** The model the client asked for (a catalog name or alias). */
  model: string
  messages: CanonicalMessage[]
  tools?: ToolDefinition[]
  toolChoice?: ToolChoice
  /** Maximum output tokens (OpenAI `max_completion_tokens`/`max_tokens`, Anthropic `max_tokens`). */
  maxTokens?: number
  temperature?: number
  topP?: number
  stop?: string[]
  stream: boolean
  /** Whether the client asked for the usage chunk at the end of an OpenAI stream. */
  includeUsage: boolean
  /** End-user id, when the client sent one (OpenAI `user`, Anthropic `metadata.user_id`). */
  user?: string
  /** The protocol the client spoke. */
  protocol: WireProtocol
  /**
   * Parameters of the client's protocol that the canonical shape does not model (for example
   * OpenAI `response_format`, `seed`, `logprobs`; Anthropic `thinking`). Forwarded only to an
   * upstream of the same protocol.
   */
  extra: Record<string, unknown>
}

/** Why generation stopped. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error'

/** One choice of a non-streamed response. */
export interface CanonicalChoice {
  index: number
  message: { role: 'assistant'; content: ContentPart[] }
  finishReason: FinishReason | null
}

/** Token counts of one request. All are integers. */
export interface Usage {
  inputTokens: number
  outputTokens: number
  /** Input tokens served from the provider's prompt cache (included in inputTokens). */
  cachedReadTokens: number
  /** Input tokens written to the provider's prompt cache (included in inputTokens). */
  cacheWriteTokens: number
  /** True when the counts were estimated with a tokenizer because the upstream did not report them. */
  estimated: boolean
}

/** A complete (non-streamed) response. */
export interface CanonicalResponse {
  id: string
  model: string
  created: number
  choices: CanonicalChoice[]
  usage?: Usage
}

/** One event of a streamed response. */
export type StreamEvent =
  | { type: 'start'; id: string; model: string; created: number }
  | { type: 'text'; index: number; text: string }
  | { type: 'tool_call'; index: number; toolIndex: number; id?: string; name?: string; arguments: string }
  | { type: 'finish'; index: number; reason: FinishReason }
  | { type: 'usage'; usage: Usage }

/**
 * What `onResponseChunk` hooks see: the events decoded from one upstream SSE message. A hook may
 * replace `events` (redact a text delta, hold text back, add events); if none does, the upstream
 * bytes are forwarded as they were when the client speaks the upstream's protocol.
 */
export interface ResponseChunk {
  events: StreamEvent[]
  /** The upstream's own bytes for this chunk, when client and upstream speak the same protocol. */
  raw?: string
  /** True for the synthetic last chunk sent through the hooks at the end of the stream, so a hook can flush what it held back. */
  last?: boolean
}

/** Empty usage, for building up counts. */
export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedReadTokens: 0, cacheWriteTokens: 0, estimated: false }
}

/** Visits every text of a request (all roles, tool results, tool-call arguments), for scanners. */
export function* requestTexts(request: CanonicalRequest): Generator<{ message: CanonicalMessage; part: ContentPart }> {
  for (const message of request.messages) yield* partTexts(message, message.content)
}

function* partTexts(message: CanonicalMessage, parts: ContentPart[]): Generator<{ message: CanonicalMessage; part: ContentPart }> {
  for (const part of parts) {
    if (part.type === 'text' || part.type === 'tool_call') yield { message, part }
    else if (part.type === 'tool_result') yield* partTexts(message, part.content)
  }
}
