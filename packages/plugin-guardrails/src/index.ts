/**
 * @tollgate/plugin-guardrails — PII, secrets, prompt-injection, file and document leakage
 * detection with custom rules and block/warn/redact actions, on prompts and (streamed) answers.
 */
export { guardrailsPlugin } from './plugin.js'
export type { GuardrailsPluginConfig } from './config.js'
export { GuardrailsExtensions, regexMatches, matchesAround, type GuardrailRule, type GuardrailMatch, type GuardrailAction, type GuardrailCategory } from './rules/rule.js'
export type { GuardrailPolicy, RuleSetting } from './engine/policy.js'
export { RuleSet, rulesFor, redact, type Finding, type Direction } from './engine/rule-set.js'
export { systemRules, DEFAULT_PHONE_REGIONS, type SystemRuleOptions } from './rules/system-rules.js'
export { injectionScore, DEFAULT_INJECTION_THRESHOLD } from './rules/injection-rule.js'
export { documentFingerprint } from './rules/fingerprint.js'
export { compileCustomRegex, type CustomRegexDefinition } from './custom/custom-regex.js'
export { GUARDRAILS_ERRORS } from './errors.js'
export type { GuardrailViolationEvent, PolicyScope } from './events.js'
