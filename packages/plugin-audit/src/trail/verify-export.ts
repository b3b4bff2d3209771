import type { KeyObject } from 'node:crypto'
import type { AuditEntry } from './audit-entry.js'
import { ChainChecker, type VerifyReport } from './chain-checker.js'
import { type Checkpoint, checkpointSignatureValid } from './checkpoint-signer.js'

/** What an exported copy is checked against. */
export interface ExportVerifyOptions {
  /** Checkpoints kept outside the database; only those that verify under `publicKeys` are used. */
  checkpoints?: readonly Checkpoint[]
  publicKeys?: ReadonlyMap<string, KeyObject>
}

/**
 * Verifies an exported copy of the trail offline (no database): each organization's entries, in
 * chain order, against their hashes and links and the signed checkpoints. The export must hold
 * whole chains (an unfiltered export); entries are grouped by organization.
 */
export function verifyExport(entries: Iterable<AuditEntry>, options: ExportVerifyOptions = {}): { intact: boolean; organizations: VerifyReport[]; rejectedCheckpoints: number } {
  const keys = options.publicKeys ?? new Map()
  const trusted = (options.checkpoints ?? []).filter((c) => checkpointSignatureValid(c, keys))
  const byOrg = new Map<string, AuditEntry[]>()
  for (const e of entries) {
    const list = byOrg.get(e.organizationId) ?? []
    list.push(e)
    byOrg.set(e.organizationId, list)
  }
  for (const c of trusted) if (!byOrg.has(c.organizationId)) byOrg.set(c.organizationId, [])
  const organizations: VerifyReport[] = []
  for (const [org, list] of byOrg) {
    const checker = new ChainChecker(org, { checkpoints: trusted.filter((c) => c.organizationId === org) })
    for (const e of list) if (!checker.push(e)) break
    organizations.push(checker.finish())
  }
  return { intact: organizations.every((r) => r.intact), organizations, rejectedCheckpoints: (options.checkpoints?.length ?? 0) - trusted.length }
}
