import { blockedTermsRule } from '../custom/blocked-terms.js'
import { customRegexRule } from '../custom/custom-regex.js'
import { topicRule } from '../custom/topic-rule.js'
import { fingerprintRule } from '../rules/fingerprint.js'
import type { GuardrailAction, GuardrailRule } from '../rules/rule.js'
import { type SystemRuleOptions, systemRules } from '../rules/system-rules.js'
import { type GuardrailPolicy, settingFor } from './policy.js'

/** Which side of the exchange a text is on. */
export type Direction = 'input' | 'output'

/** One hit, as the engine reports it: where, which rule, what to do. Never the matched text. */
export interface Finding {
  ruleId: string
  category: string
  action: GuardrailAction
  placeholder: string
  start: number
  end: number
}

interface ActiveRule {
  rule: GuardrailRule
  action: GuardrailAction
  input: boolean
  output: boolean
  /** The rule's keywords as one regex (one pass over the text instead of one per keyword). */
  prefilter?: RegExp
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * The compiled rules of one effective policy. Built once per policy version and cached; `scan`
 * lower-cases the text once, skips rules whose keywords are absent, runs each rule's
 * precompiled matcher, and drops fallback hits that overlap a specific hit of their category.
 */
export class RuleSet {
  readonly #input: ActiveRule[]
  readonly #output: ActiveRule[]
  /** Characters of an answer the stream guard holds back: the longest match an output span rule needs. */
  readonly window: number

  constructor(rules: readonly GuardrailRule[], policy: GuardrailPolicy) {
    const active: ActiveRule[] = []
    for (const rule of rules) {
      const s = settingFor(policy, rule.id, rule.category)
      if (s.action === 'off') continue
      active.push({
        rule,
        action: s.action ?? rule.defaultAction,
        input: s.input ?? rule.defaultScope?.input ?? true,
        output: s.output ?? rule.defaultScope?.output ?? true,
        prefilter: rule.keywords?.length ? new RegExp(rule.keywords.map(escapeRe).join('|')) : undefined,
      })
    }
    this.#input = active.filter((a) => a.input)
    this.#output = active.filter((a) => a.output)
    this.window = Math.max(1, ...this.#output.map((a) => a.rule.maxMatchLength))
  }

  /** The rules in force, for listings. */
  get rules(): { id: string; category: string; action: GuardrailAction; input: boolean; output: boolean }[] {
    const seen = new Map<string, ActiveRule>()
    for (const a of [...this.#input, ...this.#output]) seen.set(a.rule.id, a)
    return [...seen.values()].map((a) => ({ id: a.rule.id, category: a.rule.category, action: a.action, input: a.input, output: a.output }))
  }

  /**
   * Findings in a text, sorted by start. `role` limits role-scoped rules (injection, topics);
   * `spanOnly` skips whole-text scorers (the stream guard scans windows, not whole answers).
   */
  scan(text: string, direction: Direction, role?: string, spanOnly = false): Finding[] {
    if (text.length === 0) return []
    const active = direction === 'input' ? this.#input : this.#output
    const lower = lowerSameLength(text)
    const out: Finding[] = []
    for (const a of active) {
      const rule = a.rule
      if (spanOnly && rule.maxMatchLength === 0) continue
      if (role && rule.roles && !rule.roles.includes(role as never)) continue
      if (a.prefilter && !a.prefilter.test(lower)) continue
      const matches = rule.scan(text, lower)
      if (matches.length === 0) continue
      for (const m of matches) {
        if (rule.fallback && out.some((f) => f.category === rule.category && f.start < m.end && m.start < f.end)) continue
        out.push({ ruleId: rule.id, category: rule.category, action: a.action, placeholder: rule.placeholder, start: m.start, end: m.end })
      }
    }
    return out.length > 1 ? out.sort((x, y) => x.start - y.start || y.end - x.end) : out
  }
}

/** The text lower-cased with offsets kept: full Unicode lower-casing unless it changes the length (İ → i̇), then ASCII only. */
function lowerSameLength(text: string): string {
  const lower = text.toLowerCase()
  return lower.length === text.length ? lower : text.replace(/[A-Z]+/g, (s) => s.toLowerCase())
}

/** Every rule a policy brings into play: system rules, extension rules, then the policy's custom rules. */
export function rulesFor(policy: GuardrailPolicy, extensions: readonly GuardrailRule[], options: SystemRuleOptions): GuardrailRule[] {
  const rules = [...systemRules({ ...options, injectionThreshold: policy.injectionThreshold ?? options.injectionThreshold }), ...extensions]
  if (policy.blockedTerms) {
    const r = blockedTermsRule(policy.blockedTerms.terms, policy.blockedTerms.action)
    if (r) rules.push(r)
  }
  for (const def of policy.customRegexes ?? []) rules.push(customRegexRule(def))
  if (policy.topics) {
    const r = topicRule(policy.topics)
    if (r) rules.push(r)
  }
  if (policy.documents?.length) rules.push(fingerprintRule(policy.documents))
  return rules
}

/** Replaces every redact finding (overlaps merged, the earliest finding's placeholder kept) with its placeholder. */
export function redact(text: string, findings: readonly Finding[], from = 0, to = text.length): string {
  let out = ''
  let pos = from
  let last = -1
  for (const f of findings) {
    if (f.action !== 'redact' || f.end <= from || f.start >= to) continue
    if (f.start < pos && last >= 0) {
      // Overlaps the span just replaced: widen it, one placeholder for both.
      pos = Math.min(Math.max(pos, f.end), to)
      continue
    }
    const s = Math.max(f.start, pos)
    out += text.slice(pos, s) + f.placeholder
    pos = Math.min(f.end, to)
    last = s
  }
  return out + text.slice(pos, to)
}
