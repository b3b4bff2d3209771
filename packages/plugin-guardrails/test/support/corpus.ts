import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The shared corpora folder (`testdata/guardrails` at the repository root, a copy of the public corpora; see testdata/README.md). */
export const CORPUS_DIR = fileURLToPath(new URL('../../../../testdata/guardrails/', import.meta.url))

/** One JSON-lines record. */
export type CorpusRecord = Record<string, any> & { text: string }

/** Loads a corpus file. */
export function loadCorpus(file: string): CorpusRecord[] {
  return readFileSync(CORPUS_DIR + file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l))
}

/**
 * The deterministic split: a record belongs to the tuning half when the first byte of the
 * SHA-256 of its text is even, to the held-out half when it is odd. Detectors were tuned on the
 * tuning half only; the tests measure the held-out half.
 */
export function half(text: string): 'tuning' | 'held-out' {
  return (createHash('sha256').update(text).digest()[0] & 1) === 0 ? 'tuning' : 'held-out'
}

/**
 * The gitleaks and secretlint rule ids counted as "providers we support": for each, every
 * should-flag example must be flagged and no should-pass example may be flagged.
 */
export const SUPPORTED_GITLEAKS = /^(?:openai-api-key|anthropic-(?:admin-)?api-key|aws-access-token|github-(?:pat|fine-grained-pat|oauth|app-token|refresh-token)|gitlab-[a-z-]+|stripe-access-token|slack-[a-z-]+|gcp-api-key|private-key|jwt)$/
export const SUPPORTED_SECRETLINT = /^@secretlint\/secretlint-rule-(?:openai|anthropic|aws|github|gitlab|stripe|slack|gcp|privatekey|database-connection-string)$/

/** Presidio entities we support, with the rule that detects each. */
export const SUPPORTED_PII: Record<string, string> = {
  EMAIL_ADDRESS: 'pii.email',
  PHONE_NUMBER: 'pii.phone',
  US_SSN: 'pii.us_ssn',
  CREDIT_CARD: 'pii.credit_card',
  IBAN_CODE: 'pii.iban',
  IP_ADDRESS: 'pii.ip_address',
}
