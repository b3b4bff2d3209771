import type { KeyObject } from 'node:crypto'
import type { Database, IdentityService, PluginHost } from '@tollgate/core'
import type { RetentionPolicies } from '../request-log/retention-policies.js'

/** What the audit routes need. */
export interface AuditRouteDeps {
  db: Database
  identity: IdentityService
  events: PluginHost['events']
  policies: RetentionPolicies
  /** Keys checkpoints may be signed with, by key id. */
  publicKeys: ReadonlyMap<string, KeyObject>
  /** The signing key, when checkpoints are enabled. */
  privateKey?: KeyObject
  /** Rows per page when the client does not say. */
  defaultPageSize: number
}

/** Schema pieces shared by the routes. */
export const uuid = { type: 'string', format: 'uuid' } as const
export const orgParams = { type: 'object', required: ['organizationId'], additionalProperties: false, properties: { organizationId: uuid } } as const
export const exportFormat = { type: 'string', enum: ['csv', 'json', 'ndjson'], default: 'csv' } as const
export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 1000 },
  cursor: { type: 'string', maxLength: 400 },
} as const
export const timeRange = {
  from: { type: 'string', format: 'date-time', description: 'Inclusive lower bound (ISO 8601)' },
  to: { type: 'string', format: 'date-time', description: 'Exclusive upper bound (ISO 8601)' },
} as const

/** Parses an optional ISO time of a validated query. */
export function optionalDate(v: string | undefined): Date | undefined {
  return v === undefined ? undefined : new Date(v)
}
