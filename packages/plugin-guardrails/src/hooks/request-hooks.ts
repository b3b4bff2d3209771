import { setImmediate as nextTurn } from 'node:timers/promises'
import { type CanonicalMessage, type CanonicalRequest, type CanonicalResponse, type ContentPart, createStateKey, type RequestContext, type ResponseChunk } from '@tollgate/core'
import { type Direction, type RuleSet, redact } from '../engine/rule-set.js'
import type { ScanCache } from '../engine/scan-cache.js'
import type { PolicyStore } from '../store/policy-store.js'
import { newViolations, noteFindings, type RequestViolations, type ViolationCounter } from '../store/violation-recorder.js'
import { StreamGuard } from '../stream/stream-guard.js'
import { blocked } from '../stream/text-guard.js'

/** Scanning time after which a request's prompt scan lets the event loop run (between messages). */
const SCAN_SLICE_MS = 2

/** Per-request state of the plugin. */
export interface GuardrailsRequestState {
  rules: RuleSet
  violations: RequestViolations
  stream?: StreamGuard
}

/** The state key of the plugin's per-request state. */
export const GUARDRAILS_STATE = createStateKey<GuardrailsRequestState>('guardrails.request')

/** What the hooks need. */
export interface HookDeps {
  policies: PolicyStore
  violations: ViolationCounter
  maxStreamHold: number
  /** Findings of prompt texts already scanned. */
  scanCache: ScanCache
}

function stateOf(ctx: RequestContext, d: HookDeps): GuardrailsRequestState {
  let s = ctx.state.get(GUARDRAILS_STATE)
  if (!s) {
    s = { rules: d.policies.rulesFor(ctx.principal?.organizationId, ctx.principal?.projectId), violations: newViolations() }
    ctx.state.set(GUARDRAILS_STATE, s)
  }
  return s
}

/** Scans one text; returns the redacted text (or the same string) and throws on a block finding. */
function guardText(text: string, s: GuardrailsRequestState, d: HookDeps, direction: Direction, role?: string): string {
  // Prompt texts repeat across requests (conversation history, system prompts): looked up first.
  const findings = direction === 'input' ? d.scanCache.scanInput(s.rules, text, role) : s.rules.scan(text, direction, role)
  if (findings.length === 0) return text
  noteFindings(s.violations, findings, direction, d.violations)
  const block = findings.find((f) => f.action === 'block')
  if (block) throw blocked(block)
  return findings.some((f) => f.action === 'redact') ? redact(text, findings) : text
}

/** Scans content parts (text, tool-call arguments, tool results, recursively); returns new parts when something was redacted. */
function guardParts(parts: ContentPart[], s: GuardrailsRequestState, d: HookDeps, direction: Direction, role?: string): ContentPart[] | undefined {
  let changed = false
  const out = parts.map((part): ContentPart => {
    if (part.type === 'text') {
      const text = guardText(part.text, s, d, direction, role)
      if (text === part.text) return part
      changed = true
      return { ...part, text }
    }
    if (part.type === 'tool_call') {
      const args = guardText(part.arguments, s, d, direction, role)
      if (args === part.arguments) return part
      changed = true
      return { ...part, arguments: args }
    }
    if (part.type === 'tool_result') {
      const content = guardParts(part.content, s, d, direction, 'tool')
      if (!content) return part
      changed = true
      return { ...part, content }
    }
    return part
  })
  return changed ? out : undefined
}

/** beforeUpstream: every message of every role, tool calls and tool results; may rewrite the request (redact) or reject it (block). */
export function createBeforeUpstream(d: HookDeps) {
  return async (ctx: RequestContext): Promise<void> => {
    const s = stateOf(ctx, d)
    const original = ctx.request.messages
    let messages: CanonicalMessage[] | undefined
    let since = performance.now()
    for (let i = 0; i < original.length; i++) {
      const m = original[i]
      const parts = guardParts(m.content, s, d, 'input', m.role)
      if (parts) {
        messages ??= [...original]
        messages[i] = { ...m, content: parts }
      }
      // A long conversation scanned in one go would hold the event loop while every other request
      // waits: between messages, it gets a turn once ~2 ms of scanning have passed.
      if (i + 1 < original.length && performance.now() - since > SCAN_SLICE_MS) {
        await nextTurn()
        since = performance.now()
      }
    }
    if (messages) ctx.request = { ...ctx.request, messages } satisfies CanonicalRequest
  }
}

/** onResponse: the whole answer, text and tool-call arguments. */
export function createOnResponse(d: HookDeps) {
  return async (ctx: RequestContext, response: CanonicalResponse): Promise<CanonicalResponse | undefined> => {
    const s = stateOf(ctx, d)
    let changed = false
    const choices = response.choices.map((c) => {
      const parts = guardParts(c.message.content, s, d, 'output')
      if (!parts) return c
      changed = true
      return { ...c, message: { ...c.message, content: parts } }
    })
    return changed ? { ...response, choices } : undefined
  }
}

/** onResponseChunk: streamed text and tool-call arguments through the stream guard. */
export function createOnResponseChunk(d: HookDeps) {
  return async (ctx: RequestContext, chunk: ResponseChunk) => {
    const s = stateOf(ctx, d)
    s.stream ??= new StreamGuard(s.rules, d.maxStreamHold, (findings) => noteFindings(s.violations, findings, 'output', d.violations))
    const hasGuarded = chunk.last || chunk.events.some((e) => e.type === 'text' || e.type === 'tool_call' || e.type === 'finish')
    if (!hasGuarded) return undefined
    return s.stream.transform(chunk)
  }
}
