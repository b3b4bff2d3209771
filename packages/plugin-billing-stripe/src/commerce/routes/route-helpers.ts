import { TollgateError, parseUsd } from '@tollgate/core'
import { PICO_PER_CENT } from '../commerce-config.js'

/** Path params of organization-scoped routes. */
export interface OrgParams {
  organizationId: string
}

/** JSON Schema of the organization path param. */
export const orgParams = { type: 'object', required: ['organizationId'], properties: { organizationId: { type: 'string' } } } as const

/** A USD decimal string ("12.5"), optionally signed. */
export const usdString = { type: 'string', pattern: '^-?\\d{1,9}(\\.\\d{1,12})?$' } as const

/** Parses a signed USD string into picodollars, naming the field on error. */
export function signedUsd(text: string, field: string): bigint {
  const negative = text.startsWith('-')
  try {
    const v = parseUsd(negative ? text.slice(1) : text, field)
    return negative ? -v : v
  } catch (err) {
    throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', (err as Error).message, { field })
  }
}

/** Parses a USD string that must be whole cents (> 0). */
export function centsOf(text: string, field: string): number {
  const v = signedUsd(text, field)
  if (v <= 0n || v % PICO_PER_CENT !== 0n) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${field}: give a positive amount in whole cents ("25.00")`, { field })
  return Number(v / PICO_PER_CENT)
}

/** A year/month query (both optional). */
export const periodQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { year: { type: 'integer', minimum: 2000, maximum: 2200 }, month: { type: 'integer', minimum: 1, maximum: 12 }, organizationId: { type: 'string' } },
} as const

/** The year and month asked for, defaulting to the current UTC month. */
export function periodOf(q: { year?: number; month?: number }): { year: number; month: number } {
  const now = new Date()
  return { year: q.year ?? now.getUTCFullYear(), month: q.month ?? now.getUTCMonth() + 1 }
}
