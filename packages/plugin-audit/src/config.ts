import type { RetentionMode } from './request-log/retention-policies.js'

/** Options of the audit plugin (validated by its JSON Schema at startup; defaults applied). */
export interface AuditPluginConfig {
  /** Event names or patterns ("usage.*", "*.violated") never recorded in the trail. */
  ignoreEvents: string[]
  /** Extra payload key names whose values are masked in diffs and details (beyond the built-in secret names). */
  maskKeys: string[]
  checkpoints: {
    /** Ed25519 private key (PKCS#8 PEM, or base64 DER) that signs checkpoints. Without it no checkpoints are signed. */
    privateKey?: string
    /** Further Ed25519 public keys (SPKI PEM or base64 DER) whose older checkpoints still verify (key rotation). */
    publicKeys: string[]
    /** How often the checkpoint worker signs the heads that moved (ms). */
    intervalMs: number
  }
  retention: {
    /** Mode of organizations without a policy of their own. */
    defaultMode: RetentionMode
    /** Days verbose data is kept when the organization's policy does not say. */
    windowDays: number
    /** How often the retention worker runs (ms). */
    intervalMs: number
    /** Largest stored request or response body (bytes); larger ones are stored truncated with a marker. */
    maxBodyBytes: number
    /** How long a retention policy is cached per instance (ms). */
    policyCacheTtlMs: number
  }
  requestLog: {
    /** How often usage events are copied into the request log (ms). */
    pollIntervalMs: number
    /** Usage events copied per transaction. */
    batchSize: number
  }
  /** Rows per page of the list endpoints when the client gives no limit. */
  pageSize: number
}

/** JSON Schema of the config. */
export const auditConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ignoreEvents: { type: 'array', items: { type: 'string', minLength: 1 }, default: ['usage.*', '*.violated'] },
    maskKeys: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    checkpoints: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        privateKey: { type: 'string', minLength: 40 },
        publicKeys: { type: 'array', items: { type: 'string', minLength: 40 }, default: [] },
        intervalMs: { type: 'integer', minimum: 1000, default: 3_600_000 },
      },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        defaultMode: { type: 'string', enum: ['retain', 'none'], default: 'none' },
        windowDays: { type: 'integer', minimum: 1, maximum: 36500, default: 30 },
        intervalMs: { type: 'integer', minimum: 1000, default: 3_600_000 },
        maxBodyBytes: { type: 'integer', minimum: 1024, default: 1_048_576 },
        policyCacheTtlMs: { type: 'integer', minimum: 0, default: 30_000 },
      },
    },
    requestLog: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        pollIntervalMs: { type: 'integer', minimum: 10, default: 1000 },
        batchSize: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 },
      },
    },
    pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const
