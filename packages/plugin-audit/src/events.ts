import type { RetentionMode } from './request-log/retention-policies.js'

declare module '@tollgate/core' {
  interface DomainEvents {
    /**
     * Verbose request data was stored for an organization whose retention is `retain`: the
     * billing plugin's data-retention meter subscribes (transactionally: emitted in the
     * transaction that stored the bodies). `tokens` = prompt + completion tokens stored.
     */
    'audit.retainedTokens': { organizationId: string; tokens: number; requests: number; bytes: number; batchId: string }
    /** An organization's retention policy changed (recorded in the trail as settings.retention_changed). */
    'audit.retentionChanged': {
      organizationId: string
      before: { mode: RetentionMode; windowDays: number }
      after: { mode: RetentionMode; windowDays: number }
    }
    /** A checkpoint of an organization's chain was signed (not itself recorded in the trail). */
    'audit.checkpointSigned': { organizationId: string; seq: number; hash: string; keyId: string }
  }
}
