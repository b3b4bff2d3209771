/**
 * Token counts estimated with the o200k_base tokenizer (gpt-tokenizer, pure JS), for when the
 * upstream did not report usage (a cut stream, an upstream without usage) and for the mock
 * provider. Estimates follow OpenAI's chat accounting (a few tokens of framing per message); for
 * other vendors' models they are approximate. Cost stays bounded: very long texts are counted on
 * a prefix and scaled.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base'
import type { CanonicalRequest, ContentPart, Usage } from '../canonical/types.js'

/** Special-token strings in user text are counted as ordinary text (never rejected). */
const COUNT_OPTIONS = { disallowedSpecial: new Set<string>() }
/** Texts longer than this are counted on a prefix of this length and scaled. */
const MAX_EXACT_CHARS = 200_000
/** Framing tokens per message, and priming of the reply (OpenAI's chat format). */
const TOKENS_PER_MESSAGE = 3
const REPLY_PRIMING = 3
/** A typical image (a 1024×1024 picture at high detail costs 765 tokens with OpenAI). */
const IMAGE_TOKENS = 765

/** Most tokens one opaque vendor block counts for. */
const OPAQUE_CAP = 4_000

/** Estimated tokens of a text. */
export function estimateTextTokens(text: string): number {
  if (text.length === 0) return 0
  if (text.length <= MAX_EXACT_CHARS) return countTokens(text, COUNT_OPTIONS)
  const sample = countTokens(text.slice(0, MAX_EXACT_CHARS), COUNT_OPTIONS)
  return Math.ceil((sample * text.length) / MAX_EXACT_CHARS)
}

/** Estimated input tokens of a request: messages, their framing, and the tool definitions. */
export function estimateInputTokens(request: CanonicalRequest): number {
  let total = REPLY_PRIMING
  for (const message of request.messages) {
    total += TOKENS_PER_MESSAGE
    if (message.name) total += estimateTextTokens(message.name) + 1
    total += partsTokens(message.content)
  }
  if (request.tools && request.tools.length > 0) {
    for (const tool of request.tools) {
      total += TOKENS_PER_MESSAGE + estimateTextTokens(tool.name)
      if (tool.description) total += estimateTextTokens(tool.description)
      if (tool.parameters) total += estimateTextTokens(JSON.stringify(tool.parameters))
    }
  }
  return total
}

/** Estimated usage of a request and the text it produced (marked `estimated`). */
export function estimateUsage(request: CanonicalRequest, outputText: string): Usage {
  return {
    inputTokens: estimateInputTokens(request),
    outputTokens: estimateTextTokens(outputText),
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    estimated: true,
  }
}

function partsTokens(parts: ContentPart[]): number {
  let total = 0
  for (const part of parts) {
    switch (part.type) {
      case 'text':
        total += estimateTextTokens(part.text)
        break
      case 'image':
        total += IMAGE_TOKENS
        break
      case 'tool_call':
        total += estimateTextTokens(part.name) + estimateTextTokens(part.arguments) + TOKENS_PER_MESSAGE
        break
      case 'tool_result':
        total += partsTokens(part.content) + TOKENS_PER_MESSAGE
        break
      case 'opaque':
        // Vendor blocks (thinking, documents, audio): about four characters a token of their JSON,
        // capped so a base64 payload does not count as its byte size.
        total += Math.min(OPAQUE_CAP, Math.ceil(opaqueLength(part.value) / 4))
        break
    }
  }
  return total
}

function opaqueLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0
  } catch {
    return 0
  }
}
