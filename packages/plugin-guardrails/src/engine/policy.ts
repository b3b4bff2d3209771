import type { CustomRegexDefinition } from '../custom/custom-regex.js'
import type { TopicRestriction } from '../custom/topic-rule.js'
import type { FingerprintedDocument } from '../rules/fingerprint.js'
import type { GuardrailAction } from '../rules/rule.js'

/** A rule's setting in a policy. `off` disables it; `input`/`output` choose the sides it scans. */
export interface RuleSetting {
  action?: GuardrailAction | 'off'
  input?: boolean
  output?: boolean
}

/**
 * A guardrail policy: the gateway's defaults (plugin config), an organization's and a
 * project's overrides all have this shape; the effective policy of a request layers them in
 * that order (later wins per rule key; custom terms, regexes and documents accumulate).
 */
export interface GuardrailPolicy {
  /** Keys: a rule id (`secret.openai`), a category (`pii.*`) or `*`. The most specific key wins. */
  rules?: Record<string, RuleSetting>
  /** Score at which the prompt-injection rule fires (default 3). */
  injectionThreshold?: number
  blockedTerms?: { terms: string[]; action: GuardrailAction }
  customRegexes?: CustomRegexDefinition[]
  topics?: TopicRestriction
  documents?: FingerprintedDocument[]
}

/** Layers policies, lowest precedence first. */
export function mergePolicies(layers: readonly (GuardrailPolicy | undefined)[]): GuardrailPolicy {
  const out: GuardrailPolicy = { rules: {} }
  const terms: string[] = []
  let termAction: GuardrailAction | undefined
  const regexes = new Map<string, CustomRegexDefinition>()
  const documents = new Map<string, FingerprintedDocument>()
  for (const layer of layers) {
    if (!layer) continue
    for (const [key, setting] of Object.entries(layer.rules ?? {})) out.rules![key] = { ...out.rules![key], ...setting }
    if (layer.injectionThreshold !== undefined) out.injectionThreshold = layer.injectionThreshold
    if (layer.blockedTerms) {
      terms.push(...layer.blockedTerms.terms)
      termAction = layer.blockedTerms.action
    }
    for (const r of layer.customRegexes ?? []) regexes.set(r.id, r)
    if (layer.topics) out.topics = layer.topics
    for (const d of layer.documents ?? []) documents.set(d.id, d)
  }
  if (terms.length > 0 && termAction) out.blockedTerms = { terms, action: termAction }
  if (regexes.size > 0) out.customRegexes = [...regexes.values()]
  if (documents.size > 0) out.documents = [...documents.values()]
  return out
}

/** The setting that applies to a rule: exact id, then `<category>.*`, then `*`. */
export function settingFor(policy: GuardrailPolicy, ruleId: string, category: string): RuleSetting {
  const rules = policy.rules ?? {}
  return { ...rules['*'], ...rules[`${category}.*`], ...(ruleId.startsWith('custom.regex.') ? rules['custom.regex.*'] : undefined), ...rules[ruleId] }
}
