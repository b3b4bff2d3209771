import { TollgateError } from '@tollgate/core'
import { compileCustomRegex } from '../custom/custom-regex.js'
import { documentFingerprint } from '../rules/fingerprint.js'
import type { GuardrailPolicy } from './policy.js'

/** A policy as the API accepts it: documents may carry their text, which is fingerprinted and dropped. */
export type PolicyInput = Omit<GuardrailPolicy, 'documents'> & { documents?: { id: string; text?: string; fingerprints?: string[] }[] }

/**
 * Checks what the JSON schema cannot and returns the policy to store: rule keys must name a
 * known rule or category, custom regexes must compile on the linear-time engine, ids must be
 * unique, documents are reduced to fingerprints. Throws a TollgateError naming the field.
 */
export function validatePolicy(input: PolicyInput, knownRules: ReadonlySet<string>, knownCategories: ReadonlySet<string>, fieldPrefix = ''): GuardrailPolicy {
  for (const key of Object.keys(input.rules ?? {})) {
    if (key === '*' || key === 'custom.regex.*') continue
    if (key.endsWith('.*') ? knownCategories.has(key.slice(0, -2)) : knownRules.has(key) || key.startsWith('custom.')) continue
    throw new TollgateError('TOLLGATE_ERR_GUARDRAILS_INVALID_POLICY', `${fieldPrefix}rules.${key}: no such rule or category`, { field: `${fieldPrefix}rules.${key}` })
  }
  const ids = new Set<string>()
  input.customRegexes?.forEach((r, i) => {
    if (ids.has(r.id)) throw new TollgateError('TOLLGATE_ERR_GUARDRAILS_INVALID_POLICY', `${fieldPrefix}customRegexes[${i}].id: "${r.id}" is used twice`, { field: `${fieldPrefix}customRegexes[${i}].id` })
    ids.add(r.id)
    compileCustomRegex(r, `${fieldPrefix}customRegexes[${i}].pattern`)
  })
  const policy: GuardrailPolicy = { ...input, documents: undefined }
  if (input.documents) {
    policy.documents = input.documents.map((d, i) => {
      const fingerprints = d.text !== undefined ? documentFingerprint(d.text) : (d.fingerprints ?? [])
      if (fingerprints.length === 0) throw new TollgateError('TOLLGATE_ERR_GUARDRAILS_INVALID_POLICY', `${fieldPrefix}documents[${i}]: give the document's text (at least ten words) or its fingerprints`, { field: `${fieldPrefix}documents[${i}]` })
      return { id: d.id, fingerprints }
    })
  } else delete policy.documents
  return policy
}
