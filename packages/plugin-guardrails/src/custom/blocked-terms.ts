import { type GuardrailAction, type GuardrailMatch, type GuardrailRule, regexMatches } from '../rules/rule.js'
import { normalizeTerm, normalizeWithMap, originalSpan } from './normalize.js'

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Blocked terms: Unicode-normalised, case-insensitive, on word boundaries (a term is not found
 * inside a longer word; spaces inside a term match any run of whitespace). All terms compile
 * into one alternation, longest first, tried once per position.
 */
export function blockedTermsRule(terms: readonly string[], action: GuardrailAction): GuardrailRule | undefined {
  const normalized = [...new Set(terms.map(normalizeTerm).filter((t) => t.length > 0))].sort((a, b) => b.length - a.length)
  if (normalized.length === 0) return undefined
  const body = normalized.map((t) => escapeRegex(t).replace(/ /g, '\\s+')).join('|')
  const re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${body})(?![\\p{L}\\p{N}_])`, 'gu')
  return {
    id: 'custom.blocked_term',
    category: 'custom',
    placeholder: '[BLOCKED_TERM]',
    defaultAction: action,
    maxMatchLength: Math.min(256, Math.max(...normalized.map((t) => t.length)) * 2 + 8),
    scan(text): GuardrailMatch[] {
      const n = normalizeWithMap(text)
      return regexMatches(re, n.text).map((m) => originalSpan(n, m.start, m.end))
    },
  }
}
