import type { GuardrailPolicy } from './engine/policy.js'

/** Where a policy applies: an organization, or one of its projects. */
export interface PolicyScope {
  organizationId: string
  projectId?: string
}

/** One recorded violation, as events carry it (never the matched content). */
export interface GuardrailViolationEvent {
  violationId: string
  requestId: string
  organizationId: string
  projectId?: string
  apiKeyId?: string
  rule: string
  category: string
  action: 'block' | 'warn' | 'redact'
  direction: 'input' | 'output'
  count: number
}

declare module '@tollgate/core' {
  interface DomainEvents {
    /** A policy of an organization or project was set or reset; before/after are the stored policies (documents as fingerprints only). */
    'guardrails.policyChanged': PolicyScope & { before?: GuardrailPolicy; after?: GuardrailPolicy }
    /** A guardrail rule matched a request or an answer (emitted when the violation row is written, in its transaction). */
    'guardrails.violation': GuardrailViolationEvent
  }
}
