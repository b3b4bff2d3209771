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
  /** Single-character keywords, checked with `includes` (a regex pass would stop at every one). */
  chars?: readonly string[]
  /** Whether the rule has multi-character keywords (looked for by the side's shared keyword pass). */
  words: boolean
}

/**
 * The multi-character keywords of every rule of one side, in one alternation (longest first), so
 * the text is walked once for all of them instead of once per rule. `rulesOf.get(k)` are the rules
 * (indices into the side's list) of which a keyword occurs wherever keyword `k` does: its own, and
 * those whose keyword is a substring of it (an alternation reports one keyword per position).
 */
interface KeywordPass {
  re: RegExp
  rulesOf: Map<string, number[]>
  /** Rules that rely on this pass: the walk stops once all of them are seen. */
  count: number
}

function keywordPass(active: readonly ActiveRule[]): KeywordPass | undefined {
  const all = new Set<string>()
  for (const a of active) for (const k of a.rule.keywords ?? []) if (k.length > 1) all.add(k)
  if (all.size === 0) return undefined
  const keywords = [...all].sort((x, y) => y.length - x.length)
  const rulesOf = new Map<string, number[]>()
  for (const k of keywords) {
    const hit: number[] = []
    active.forEach((a, i) => {
      if (a.rule.keywords?.some((w) => w.length > 1 && k.includes(w))) hit.push(i)
    })
    rulesOf.set(k, hit)
  }
  return { re: new RegExp(keywords.map(escapeRe).join('|'), 'g'), rulesOf, count: active.filter((a) => a.words).length }
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
  readonly #inputKeywords: KeywordPass | undefined
  readonly #outputKeywords: KeywordPass | undefined
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
        chars: rule.keywords?.some((k) => k.length === 1) ? rule.keywords.filter((k) => k.length === 1) : undefined,
        words: rule.keywords?.some((k) => k.length > 1) ?? false,
      })
    }
    this.#input = active.filter((a) => a.input)
    this.#output = active.filter((a) => a.output)
    this.#inputKeywords = keywordPass(this.#input)
    this.#outputKeywords = keywordPass(this.#output)
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
    const present = keywordsPresent(direction === 'input' ? this.#inputKeywords : this.#outputKeywords, lower, active.length)
    const out: Finding[] = []
    for (let i = 0; i < active.length; i++) {
      const a = active[i]
      const rule = a.rule
      if (spanOnly && rule.maxMatchLength === 0) continue
      if (role && rule.roles && !rule.roles.includes(role as never)) continue
      // A rule with keywords runs only if one of them occurs (any keyword, single-character or not).
      if ((a.words || a.chars) && !(a.words && present?.[i]) && !a.chars?.some((c) => lower.includes(c))) continue
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

/** Which rules of a side have one of their multi-character keywords in `lower` (one walk; stops once every such rule is seen). */
function keywordsPresent(pass: KeywordPass | undefined, lower: string, n: number): Uint8Array | undefined {
  if (!pass) return undefined
  const present = new Uint8Array(n)
  let seen = 0
  const re = pass.re
  re.lastIndex = 0
  let m: RegExpExecArray | null
  // biome-ignore lint/suspicious/noAssignInExpressions: exec loop
  while ((m = re.exec(lower)) !== null) {
    for (const i of pass.rulesOf.get(m[0]) ?? []) {
      if (present[i]) continue
      present[i] = 1
      seen++
    }
    if (seen === pass.count) break
    // Keywords can overlap (`private key` holds `key`): resume one character on, not after the match.
    re.lastIndex = m.index + 1
  }
  return present
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
