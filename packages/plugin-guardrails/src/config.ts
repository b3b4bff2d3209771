import type { CountryCode } from 'libphonenumber-js'
import type { GuardrailPolicy } from './engine/policy.js'

/** Options of the guardrails plugin. */
export interface GuardrailsPluginConfig {
  /** The gateway-wide default policy; organizations and projects override it through the management API. */
  defaults?: GuardrailPolicy
  /** Regions tried for phone numbers written without a country code. */
  phoneRegions?: CountryCode[]
  /** How often each instance reloads policies changed elsewhere, ms (default 10 000; 0 disables). */
  policyRefreshMs?: number
  /** How often queued violations are written, ms (default 250). */
  violationFlushMs?: number
  /** Longest answer text held back in a stream while a match keeps growing (default 32 768). */
  maxStreamHold?: number
}
