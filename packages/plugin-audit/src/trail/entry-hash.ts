import { createHash } from 'node:crypto'
import { canonicalJson } from './canonical-json.js'

/** The prev_hash of an organization's first entry. */
export const GENESIS_HASH = '0'.repeat(64)

/** The chain's id for events that belong to no organization (platform actions such as catalog changes). */
export const PLATFORM_CHAIN = '00000000-0000-0000-0000-000000000000'

/** What the hash covers: every field of an entry except its own hash. */
export interface HashedEntry {
  id: string
  organizationId: string
  seq: number
  occurredAt: Date
  event: string
  actor: { type: string; id: string }
  action: string
  resourceType: string
  resourceId: string | null
  diff: unknown
  details: unknown
  ip: string | null
  userAgent: string | null
  prevHash: string
}

/** The canonical bytes of an entry (version-tagged so the format can evolve). */
export function entryCanonical(e: HashedEntry): string {
  return canonicalJson({
    v: 1,
    id: e.id,
    organizationId: e.organizationId,
    seq: e.seq,
    occurredAt: e.occurredAt.toISOString(),
    event: e.event,
    actor: e.actor,
    action: e.action,
    resourceType: e.resourceType,
    resourceId: e.resourceId,
    diff: e.diff ?? null,
    details: e.details ?? null,
    ip: e.ip,
    userAgent: e.userAgent,
    prevHash: e.prevHash,
  })
}

/** SHA-256 (hex) of an entry's canonical form; prevHash is inside it, which links the chain. */
export function entryHash(e: HashedEntry): string {
  return createHash('sha256').update(entryCanonical(e)).digest('hex')
}
