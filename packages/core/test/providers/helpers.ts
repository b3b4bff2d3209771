/** Small helpers shared by the provider tests. */
import type { CanonicalRequest, ResponseChunk, StreamEvent } from '../../src/canonical/types.js'
import type { RequestContext } from '../../src/context/request-context.js'
import { anthropicProtocol } from '../../src/protocols/anthropic/anthropic-protocol.js'
import { openAIProtocol } from '../../src/protocols/openai/openai-protocol.js'
import type { ProviderAdapter, UpstreamCall, UpstreamError, UpstreamResult } from '../../src/providers/provider.js'

/** A canonical request decoded from an OpenAI client body. */
export const openAIRequest = (body: Record<string, unknown> = {}): CanonicalRequest =>
  openAIProtocol.decodeRequest({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello there' }], ...body })

/** A canonical request decoded from an Anthropic client body. */
export const anthropicRequest = (body: Record<string, unknown> = {}): CanonicalRequest =>
  anthropicProtocol.decodeRequest({ model: 'claude-x', max_tokens: 200, messages: [{ role: 'user', content: 'Hello there' }], ...body })

/** An UpstreamCall with a minimal context; `controller` aborts it. */
export function upstreamCall(request: CanonicalRequest, overrides: Partial<UpstreamCall> = {}): { call: UpstreamCall; controller: AbortController } {
  const controller = new AbortController()
  const ctx = { id: 'req-test', protocol: request.protocol, request, signal: controller.signal } as unknown as RequestContext
  return {
    controller,
    call: { ctx, request, upstreamModel: 'upstream-model', passHeaders: {}, signal: controller.signal, ...overrides },
  }
}

/** Calls an adapter and expects a JSON result. */
export async function callJson(adapter: ProviderAdapter, call: UpstreamCall): Promise<Extract<UpstreamResult, { kind: 'json' }>> {
  const result = await adapter.call(call)
  if (result.kind !== 'json') throw new Error(`expected a json result, got ${result.kind}`)
  return result
}

/** Calls an adapter and collects the whole stream. */
export async function callStream(adapter: ProviderAdapter, call: UpstreamCall): Promise<{ result: Extract<UpstreamResult, { kind: 'stream' }>; chunks: ResponseChunk[]; events: StreamEvent[] }> {
  const result = await adapter.call(call)
  if (result.kind !== 'stream') throw new Error(`expected a stream result, got ${result.kind}`)
  const chunks: ResponseChunk[] = []
  for await (const chunk of result.chunks) chunks.push(chunk)
  return { result, chunks, events: chunks.flatMap((c) => c.events) }
}

/** The concatenated text of text events. */
export const textOf = (events: StreamEvent[]) =>
  events
    .filter((e) => e.type === 'text')
    .map((e) => (e as { text: string }).text)
    .join('')

/** Runs `fn` and returns the UpstreamError it throws (fails when it does not throw one). */
export async function upstreamErrorOf(fn: () => Promise<unknown>): Promise<UpstreamError> {
  try {
    await fn()
  } catch (err) {
    if ((err as Error)?.name === 'UpstreamError') return err as UpstreamError
    throw err
  }
  throw new Error('expected an UpstreamError, nothing was thrown')
}
