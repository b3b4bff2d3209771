import type { GuardrailAction, GuardrailMatch, GuardrailRule } from '../rules/rule.js'
import { blockedTermsRule } from './blocked-terms.js'

/** A topic, decided locally by its keywords and phrases. */
export interface TopicDefinition {
  name: string
  keywords: string[]
}

/** Topic restriction as a policy declares it. */
export interface TopicRestriction {
  /** `deny`: a prompt on a listed topic is flagged. `allow`: a prompt on none of them is flagged. */
  mode: 'allow' | 'deny'
  topics: TopicDefinition[]
  action: GuardrailAction
}

/**
 * Topic restriction over user messages: a topic is present when one of its keywords occurs
 * (normalised, case-insensitive, on word boundaries). Deny mode flags the keywords; allow mode
 * flags the whole message when no allowed topic is present.
 */
export function topicRule(restriction: TopicRestriction): GuardrailRule | undefined {
  const matcher = blockedTermsRule(restriction.topics.flatMap((t) => t.keywords), restriction.action)
  if (!matcher) return undefined
  const allow = restriction.mode === 'allow'
  return {
    id: 'custom.topic',
    category: 'custom',
    placeholder: '[OFF_TOPIC]',
    defaultAction: restriction.action,
    defaultScope: { input: true, output: false },
    roles: ['user'],
    maxMatchLength: allow ? 0 : matcher.maxMatchLength,
    scan(text, lower): GuardrailMatch[] {
      const hits = matcher.scan(text, lower)
      if (!allow) return hits
      return hits.length === 0 && text.trim().length > 0 ? [{ start: 0, end: text.length }] : []
    },
  }
}
