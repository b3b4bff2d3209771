import { type CanonicalRequest, type CatalogModel, type ContentPart, costOf, type Picodollars } from '@tollgate/core'

/** What a request can cost at most, and the token bounds it was computed from. */
export interface MaxCost {
  /** Picodollars at your price. */
  amount: Picodollars
  inputTokens: number
  outputTokens: number
}

/** Tokens one image counts for at most in the bound (a high-detail 2048×2048 image is 1,105 OpenAI tokens; Anthropic caps near 1,600). */
const IMAGE_TOKENS_BOUND = 1_600
/** Framing tokens per message and for priming the reply (chat formats use 3–4). */
const FRAMING_PER_MESSAGE = 4
const REPLY_PRIMING = 3

/**
 * An upper bound of a request's input tokens without running a tokenizer (a tokenizer costs
 * ~15 µs per KB on the request path): byte-level BPE tokens are at least one byte each, so the
 * UTF-8 byte length of every text bounds their token count. Over-reserving only holds back
 * headroom for the request's duration; the actual cost is what is charged.
 */
export function inputTokensBound(request: CanonicalRequest): number {
  let total = REPLY_PRIMING
  for (const m of request.messages) {
    total += FRAMING_PER_MESSAGE + partsBound(m.content)
    if (m.name) total += Buffer.byteLength(m.name) + 1
  }
  if (request.tools) {
    for (const tool of request.tools) {
      total += FRAMING_PER_MESSAGE + Buffer.byteLength(tool.name)
      if (tool.description) total += Buffer.byteLength(tool.description)
      if (tool.parameters) total += Buffer.byteLength(JSON.stringify(tool.parameters))
    }
  }
  return total
}

function partsBound(parts: ContentPart[]): number {
  let total = 0
  for (const p of parts) {
    switch (p.type) {
      case 'text':
        total += Buffer.byteLength(p.text)
        break
      case 'image':
        total += IMAGE_TOKENS_BOUND
        break
      case 'tool_call':
        total += Buffer.byteLength(p.name) + Buffer.byteLength(p.arguments) + FRAMING_PER_MESSAGE
        break
      case 'tool_result':
        total += partsBound(p.content) + FRAMING_PER_MESSAGE
        break
      case 'opaque':
        // Vendor blocks: core estimates them at most 4,000 tokens; bound by their JSON size up to that.
        total += Math.min(4_000, safeLength(p.value))
        break
    }
  }
  return total
}

function safeLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0
  } catch {
    return 0
  }
}

/** The model's output token limit, when the catalog knows it. */
export function modelOutputLimit(model: CatalogModel): number | undefined {
  return model.maxOutputTokens
}

/**
 * The most a request can cost: every input token at the dearest input price (plain, cached
 * read or cache write), plus the most output tokens it may produce — its max_tokens, else the
 * model's output limit, else what is left of the context window, else `fallbackMaxOutput` — at
 * the output price.
 */
export function maxCostOf(model: CatalogModel, request: CanonicalRequest, fallbackMaxOutput: number): MaxCost {
  let inputTokens = inputTokensBound(request)
  if (model.contextWindow && inputTokens > model.contextWindow) inputTokens = model.contextWindow
  const limit = modelOutputLimit(model)
  let outputTokens: number
  if (request.maxTokens !== undefined && request.maxTokens > 0) outputTokens = limit ? Math.min(request.maxTokens, limit) : request.maxTokens
  else if (limit) outputTokens = limit
  else if (model.contextWindow) outputTokens = Math.max(1, model.contextWindow - Math.min(inputTokens, model.contextWindow - 1))
  else outputTokens = fallbackMaxOutput
  const p = model.prices
  let inputPrice = p.input
  if (p.cachedRead > inputPrice) inputPrice = p.cachedRead
  if (p.cacheWrite > inputPrice) inputPrice = p.cacheWrite
  return { amount: costOf(inputTokens, inputPrice) + costOf(outputTokens, p.output), inputTokens, outputTokens }
}
