/**
 * @tollgate/plugin-audit — a tamper-evident audit trail of management actions (hash-chained per
 * organization, signed checkpoints, append-only in the database), a metadata-only request log,
 * per-organization retention of verbose data, and streamed CSV/JSON exports.
 */
import './events.js'

export { auditPlugin } from './plugin.js'
export { type AuditPluginConfig, auditConfigSchema } from './config.js'
export { type AuditService, AuditServiceRef } from './audit-service.js'
export { AUDIT_ERRORS, type AuditErrorCode } from './errors.js'
export { AuditExtensions, type AuditEventMapping, describeEvent, snakeCase } from './trail/event-mapping.js'
export type { AuditEntry, AuditActor } from './trail/audit-entry.js'
export { entryFromJson, entryToJson } from './trail/audit-entry.js'
export type { NewAuditEntry } from './trail/audit-appender.js'
export { ChainChecker, type VerifyReport, type FirstBadEntry, type TamperReason, type CheckerOptions } from './trail/chain-checker.js'
export { type Checkpoint, signCheckpoint, checkpointSignatureValid, loadPrivateKey, loadPublicKey, keyIdOf } from './trail/checkpoint-signer.js'
export { canonicalJson } from './trail/canonical-json.js'
export { entryHash, GENESIS_HASH, PLATFORM_CHAIN } from './trail/entry-hash.js'
export { maskSecrets, MASK } from './trail/mask-secrets.js'
export { verifyExport, type ExportVerifyOptions } from './trail/verify-export.js'
export type { RetentionMode, RetentionPolicy } from './request-log/retention-policies.js'
export type { RequestLogEntry, RequestLogFilter } from './request-log/request-log-query.js'
export { runAuditCli, type CliIo } from './cli/audit-cli.js'
