import { RE2JS } from 're2js'
import { TollgateError } from '@tollgate/core'
import type { GuardrailAction, GuardrailMatch, GuardrailRule } from '../rules/rule.js'

/** Longest pattern source accepted. */
export const MAX_PATTERN_LENGTH = 1000
/** Custom regexes see at most this many characters of one text (the rest is scanned in further windows). */
export const CUSTOM_REGEX_WINDOW = 100_000

/** A custom regex as a policy declares it. */
export interface CustomRegexDefinition {
  id: string
  pattern: string
  caseInsensitive?: boolean
  action: GuardrailAction
  placeholder?: string
  /** Longest match to expect, for the stream hold-back (default 128). */
  maxLength?: number
}

/**
 * Compiles a user-supplied pattern with RE2 (re2js, a linear-time automaton engine, pure JS):
 * no backtracking, so `(a+)+$` or `^(a|a)*$` run in time linear in the input whatever it holds.
 * Features RE2 cannot run in linear time (back-references, look-around) are refused with the
 * engine's reason. Throws TOLLGATE_ERR_GUARDRAILS_INVALID_PATTERN naming the field.
 * (RE2 matches leftmost-first like JavaScript, so results agree on the patterns both accept.)
 */
export function compileCustomRegex(def: CustomRegexDefinition, field: string): RE2JS {
  if (def.pattern.length === 0 || def.pattern.length > MAX_PATTERN_LENGTH) {
    throw new TollgateError('TOLLGATE_ERR_GUARDRAILS_INVALID_PATTERN', `${field}: a pattern must be 1 to ${MAX_PATTERN_LENGTH} characters`, { field })
  }
  try {
    // Zero-length matches are skipped when scanning, so a pattern that can match nothing is harmless.
    return RE2JS.compile(def.pattern, def.caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0)
  } catch (err) {
    throw new TollgateError('TOLLGATE_ERR_GUARDRAILS_INVALID_PATTERN', `${field}: the pattern is refused (${(err as Error).message}); patterns run on a linear-time engine without back-references or look-around`, { field })
  }
}

/** The rule of a custom regex (already validated at save time). */
export function customRegexRule(def: CustomRegexDefinition): GuardrailRule {
  const re = compileCustomRegex(def, 'pattern')
  return {
    id: `custom.regex.${def.id}`,
    category: 'custom',
    placeholder: def.placeholder ?? `[${def.id.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}]`,
    defaultAction: def.action,
    maxMatchLength: Math.min(1024, def.maxLength ?? 128),
    scan(text): GuardrailMatch[] {
      const out: GuardrailMatch[] = []
      for (let base = 0; base < text.length; base += CUSTOM_REGEX_WINDOW) {
        const m = re.matcher(text.slice(base, base + CUSTOM_REGEX_WINDOW))
        while (m.find()) {
          if (m.end() > m.start()) out.push({ start: base + m.start(), end: base + m.end() })
        }
      }
      return out
    },
  }
}
