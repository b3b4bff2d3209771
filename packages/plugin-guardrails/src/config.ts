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
  /**
   * Prompt texts (of 256 characters or more) whose findings are remembered per compiled policy, so
   * a system prompt or conversation history resent on every request is not scanned again
   * (default 4096; 0 scans every text every time). Only a SHA-256 of each text is kept.
   */
  scanCacheEntries?: number
}
