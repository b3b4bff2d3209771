/**
 * Canonical response → `chat.completion` body for an OpenAI client. The upstream's own body is
 * returned untouched when it spoke OpenAI and no hook changed the response; when a hook did, the
 * upstream body is patched so fields Tollgate does not model (system_fingerprint, logprobs,
 * annotations, service_tier…) survive.
 */
import type { CanonicalChoice, CanonicalResponse, WireProtocol } from '../../canonical/types.js'
import type { OpenAIChatResponse, OpenAIToolCall } from './openai-wire.js'
import { finishReasonToOpenAI, usageToOpenAI } from './openai-wire.js'

/** Encodes a complete response as a Chat Completions JSON body. */
export function encodeOpenAIResponse(
  response: CanonicalResponse,
  options: { raw?: { protocol: WireProtocol; body: string }; modified: boolean; requestedModel: string },
): string {
  const raw = options.raw
  if (raw?.protocol === 'openai' && !options.modified) return raw.body
  let base: OpenAIChatResponse | undefined
  if (raw?.protocol === 'openai') {
    try {
      base = JSON.parse(raw.body) as OpenAIChatResponse
    } catch {
      base = undefined
    }
  }
  return JSON.stringify(buildOpenAIResponse(response, options.requestedModel, base))
}

/** The `chat.completion` object of a canonical response; `base` is an upstream body to patch. */
export function buildOpenAIResponse(response: CanonicalResponse, requestedModel: string, base?: OpenAIChatResponse): OpenAIChatResponse {
  const out: OpenAIChatResponse = {
    ...base,
    id: response.id || base?.id || '',
    object: 'chat.completion',
    created: response.created,
    model: response.model || base?.model || requestedModel,
    choices: response.choices.map((choice) => encodeChoice(choice, base?.choices?.find((c) => c.index === choice.index))),
  }
  if (!base) {
    out.system_fingerprint = null
  }
  if (response.usage) out.usage = usageToOpenAI(response.usage, base?.usage)
  else if (base) delete out.usage
  return out
}

function encodeChoice(choice: CanonicalChoice, base: OpenAIChatResponse['choices'][number] | undefined): OpenAIChatResponse['choices'][number] {
  let text: string | null = null
  let calls: OpenAIToolCall[] | undefined
  for (const part of choice.message.content) {
    if (part.type === 'text') text = (text ?? '') + part.text
    else if (part.type === 'tool_call') {
      calls ??= []
      calls.push({ id: part.id, type: 'function', function: { name: part.name, arguments: part.arguments } })
    }
  }
  const message: OpenAIChatResponse['choices'][number]['message'] = { ...base?.message, role: 'assistant', content: text }
  if (calls) message.tool_calls = calls
  else delete message.tool_calls
  if (!base) message.refusal = null
  const out: OpenAIChatResponse['choices'][number] = {
    ...base,
    index: choice.index,
    message,
    finish_reason: finishReasonToOpenAI(choice.finishReason),
  }
  if (!base) out.logprobs = null
  return out
}
