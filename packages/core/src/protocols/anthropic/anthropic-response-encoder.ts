/**
 * Canonical response → Messages `message` body for an Anthropic client. The upstream's own body
 * is returned untouched when it spoke Anthropic and no hook changed the response; when a hook
 * did, the upstream body is patched so fields Tollgate does not model survive.
 */
import type { CanonicalResponse, ContentPart, WireProtocol } from '../../canonical/types.js'
import { wireFields } from '../wire-fields.js'
import type { AnthropicBlock, AnthropicResponse } from './anthropic-wire.js'
import { finishReasonToAnthropic, usageToAnthropic } from './anthropic-wire.js'

/** Encodes a complete response as a Messages JSON body. */
export function encodeAnthropicResponse(
  response: CanonicalResponse,
  options: { raw?: { protocol: WireProtocol; body: string }; modified: boolean; requestedModel: string },
): string {
  const raw = options.raw
  if (raw?.protocol === 'anthropic' && !options.modified) return raw.body
  let base: AnthropicResponse | undefined
  if (raw?.protocol === 'anthropic') {
    try {
      base = JSON.parse(raw.body) as AnthropicResponse
    } catch {
      base = undefined
    }
  }
  return JSON.stringify(buildAnthropicResponse(response, options.requestedModel, base))
}

/** The Messages response object of a canonical response; `base` is an upstream body to patch. */
export function buildAnthropicResponse(response: CanonicalResponse, requestedModel: string, base?: AnthropicResponse): AnthropicResponse {
  const choice = response.choices[0]
  const content: AnthropicBlock[] = []
  if (choice) {
    for (const part of choice.message.content) {
      const block = encodeResponsePart(part)
      if (block) content.push(block)
    }
  }
  const stopReason = finishReasonToAnthropic(choice?.finishReason ?? null)
  // A stop sequence stays a stop sequence when the response still ended normally.
  const keepStopSequence = base?.stop_reason === 'stop_sequence' && stopReason === 'end_turn'
  const out: AnthropicResponse = {
    ...base,
    id: response.id || base?.id || '',
    type: 'message',
    role: 'assistant',
    model: response.model || base?.model || requestedModel,
    content,
    stop_reason: keepStopSequence ? 'stop_sequence' : stopReason,
    stop_sequence: keepStopSequence ? (base?.stop_sequence ?? null) : null,
    usage: response.usage ? usageToAnthropic(response.usage, base?.usage) : (base?.usage ?? { input_tokens: 0, output_tokens: 0 }),
  }
  return out
}

/** One response content part as a Messages block (undefined for parts a response cannot hold). */
export function encodeResponsePart(part: ContentPart): AnthropicBlock | undefined {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text, ...wireFields(part, 'anthropic') }
    case 'tool_call':
      return { type: 'tool_use', id: part.id, name: part.name, input: parseInput(part.arguments), ...wireFields(part, 'anthropic') }
    case 'opaque':
      return part.protocol === 'anthropic' ? (part.value as AnthropicBlock) : undefined
    default:
      return undefined
  }
}

function parseInput(text: string): unknown {
  if (text.length === 0) return {}
  try {
    return JSON.parse(text)
  } catch {
    return {}
  }
}
