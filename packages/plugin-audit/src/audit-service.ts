import { createServiceRef, type TxEntityManager } from '@tollgate/core'
import type { AuditEntry } from './trail/audit-entry.js'
import type { NewAuditEntry } from './trail/audit-appender.js'
import type { VerifyReport } from './trail/chain-checker.js'
import type { Checkpoint } from './trail/checkpoint-signer.js'

/** What other plugins and hosts may ask the audit plugin. */
export interface AuditService {
  /** Appends an entry directly (for actions that have no domain event), in `em`'s transaction when given. */
  record(entry: Omit<NewAuditEntry, 'occurredAt'> & { occurredAt?: Date }, em?: TxEntityManager): Promise<AuditEntry>
  /** Verifies an organization's chain against its stored checkpoints and any exported ones (in `em`'s transaction when given). */
  verify(organizationId: string, options?: { checkpoints?: Checkpoint[]; reference?: ReadonlyMap<number, string>; em?: TxEntityManager }): Promise<VerifyReport>
  /** Signs a checkpoint of the organization's head now (undefined when the chain is empty); throws when no key is configured. */
  checkpoint(organizationId: string): Promise<Checkpoint | undefined>
  /** Writes pending usage events into the request log and pending bodies to the database (tests, shutdown). */
  flush(): Promise<void>
}

/** The audit plugin's service ref. */
export const AuditServiceRef = createServiceRef<AuditService>('audit.service')
