import type { CountryCode } from 'libphonenumber-js'
import { injectionRule } from './injection-rule.js'
import { documentMarkingRule, fileLeakageRule } from './leakage-rules.js'
import { creditCardRule, emailRule, ibanRule, ipAddressRule, phoneRule, ssnRule } from './pii-rules.js'
import type { GuardrailRule } from './rule.js'
import { SECRET_RULES } from './secret-rules.js'

/** Regions tried for phone numbers written without a country code, unless configured. */
export const DEFAULT_PHONE_REGIONS: CountryCode[] = ['US', 'GB', 'DE', 'FR', 'IT', 'ES', 'NL', 'IN', 'BR', 'JP', 'CN', 'IL', 'AU', 'CA']

/** Options of the system rules. */
export interface SystemRuleOptions {
  phoneRegions?: readonly CountryCode[]
  injectionThreshold?: number
}

/** Every built-in rule, secrets first so that their spans win over PII inside them. */
export function systemRules(options: SystemRuleOptions = {}): GuardrailRule[] {
  return [
    ...SECRET_RULES,
    emailRule,
    ssnRule,
    creditCardRule,
    ibanRule,
    ipAddressRule,
    // Last of the PII rules: a number already recognised as an SSN, card or IBAN is not also a phone.
    phoneRule(options.phoneRegions ?? DEFAULT_PHONE_REGIONS),
    injectionRule(options.injectionThreshold),
    fileLeakageRule,
    documentMarkingRule,
  ]
}
