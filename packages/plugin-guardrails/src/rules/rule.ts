import { createExtensionPoint } from '@tollgate/core'

/** What a rule does when it fires: reject the request, record and allow it, or replace the match with the rule's placeholder. */
export type GuardrailAction = 'block' | 'warn' | 'redact'

/** The families of rules; a policy can set an action for a whole family (`pii.*`). */
export type GuardrailCategory = 'pii' | 'secret' | 'injection' | 'file' | 'document' | 'custom'

/** One hit of a rule in a text: offsets only, never the matched content. */
export interface GuardrailMatch {
  start: number
  end: number
}

/**
 * A detector. `scan` gets the text and its lower-cased copy (made once per text, shared by all
 * rules, always of the same length so offsets in it are offsets in the text) and returns the
 * spans it flags. It must be a pure function of its input, run in time
 * linear in the text, and flag nothing longer than `maxMatchLength` without also flagging a
 * prefix of it no longer than that (the stream guard holds back only that many characters).
 */
export interface GuardrailRule {
  /** Stable id, `<category>.<name>` (`secret.openai`); used in policies, violations and metrics. */
  readonly id: string
  readonly category: GuardrailCategory
  /** What a redaction puts in place of a match (`[EMAIL]`). */
  readonly placeholder: string
  /** The action when no policy names the rule. */
  readonly defaultAction: GuardrailAction
  /** Which side it scans by default: prompts, answers or both. */
  readonly defaultScope?: { input: boolean; output: boolean }
  /**
   * Longest span a match can need before it is recognisable. The stream guard holds back at most
   * this many characters of an answer (a match that keeps growing is held until it ends).
   */
  readonly maxMatchLength: number
  /** Message roles whose text it scans (default: every role, tool results included). */
  readonly roles?: readonly ('system' | 'developer' | 'user' | 'assistant' | 'tool')[]
  /** A catch-all rule: its matches are dropped where a specific rule of the same category matched. */
  readonly fallback?: boolean
  /** Lower-case literals of which at least one occurs in any text the rule can flag (a cheap prefilter); empty = always run. */
  readonly keywords?: readonly string[]
  scan(text: string, lower: string): GuardrailMatch[]
}

/**
 * The extension point for company rules: `host.services.extend(GuardrailsExtensions.rules, rule)`
 * from any plugin registered before or after guardrails. Rules added here behave like system
 * rules: policies set their action, violations and metrics name them.
 */
export const GuardrailsExtensions = {
  rules: createExtensionPoint<GuardrailRule>('guardrails.rules'),
} as const

/** Collects every match of a global regex (its `lastIndex` is reset first). */
export function regexMatches(re: RegExp, text: string, group?: number, accept?: (m: RegExpExecArray) => boolean): GuardrailMatch[] {
  const out: GuardrailMatch[] = []
  re.lastIndex = 0
  let m: RegExpExecArray | null
  // biome-ignore lint/suspicious/noAssignInExpressions: the classic exec loop
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex++
      continue
    }
    if (accept && !accept(m)) continue
    if (group !== undefined && m.indices?.[group]) {
      const [s, e] = m.indices[group]
      out.push({ start: s, end: e })
    } else out.push({ start: m.index, end: m.index + m[0].length })
  }
  return out
}

const FINDERS = new WeakMap<readonly string[], RegExp>()

/** Characters of context kept on each side of a window, so look-behinds and look-aheads see real text. */
const MARGIN = 8

/**
 * Matches of a global regex looked for only around occurrences of literals: every occurrence
 * of a literal in `hay` (usually the lower-cased text) opens a window of `before` characters
 * before it and `after` characters after it; overlapping windows merge; the regex runs on each
 * window of `target` (same offsets as `hay`). Cost is linear in the text plus the windows, and a
 * regex with leading optional parts is never tried at every position of a long text. The
 * literals must be such that every match contains one, at most `before` characters after the
 * match start and `after` characters before its end.
 */
export function matchesAround(hay: string, literals: readonly string[], re: RegExp, before: number, after: number, target: string = hay): GuardrailMatch[] {
  const windows: [number, number][] = []
  // All literals in one pass (one regex) rather than one indexOf pass per literal.
  let finder = FINDERS.get(literals)
  if (!finder) {
    finder = new RegExp(literals.map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
    FINDERS.set(literals, finder)
  }
  finder.lastIndex = 0
  let m: RegExpExecArray | null
  // biome-ignore lint/suspicious/noAssignInExpressions: exec loop
  while ((m = finder.exec(hay)) !== null) {
    windows.push([Math.max(0, m.index - before - MARGIN), Math.min(hay.length, m.index + m[0].length + after + MARGIN)])
  }
  if (windows.length === 0) return []
  windows.sort((a, b) => a[0] - b[0])
  const out: GuardrailMatch[] = []
  let [ws, we] = windows[0]
  const flush = () => {
    const lo = ws === 0 ? 0 : MARGIN
    const hi = we === target.length ? we - ws : we - ws - MARGIN
    for (const m of regexMatches(re, target.slice(ws, we))) if (m.start >= lo && m.end <= hi) out.push({ start: ws + m.start, end: ws + m.end })
  }
  for (let i = 1; i < windows.length; i++) {
    const [s, e] = windows[i]
    if (s <= we) we = Math.max(we, e)
    else {
      flush()
      ;[ws, we] = windows[i]
    }
  }
  flush()
  return out
}
