/** Who did something: a user, an API key or the system. */
export interface AuditActor {
  type: 'user' | 'api_key' | 'system' | (string & {})
  id: string
}

/** An entry of the audit trail as read back or exported. */
export interface AuditEntry {
  id: string
  organizationId: string
  /** Position in the organization's chain, from 1, without gaps. */
  seq: number
  occurredAt: Date
  /** The domain event it records. */
  event: string
  actor: AuditActor
  action: string
  resourceType: string
  resourceId: string | null
  /** Before/after of the change, secrets masked. */
  diff: { before?: unknown; after?: unknown } | null
  /** The rest of the event's payload, secrets masked. */
  details: Record<string, unknown> | null
  ip: string | null
  userAgent: string | null
  prevHash: string
  hash: string
}

/** A row of audit_entry as the drivers return it. */
export interface AuditEntryRow {
  id: string
  organization_id: string
  seq: string | number
  occurred_at: Date | string
  event: string
  actor_type: string
  actor_id: string
  action: string
  resource_type: string
  resource_id: string | null
  diff: unknown
  details: unknown
  ip: string | null
  user_agent: string | null
  prev_hash: string
  hash: string
}

/** The columns of audit_entry, in one place for every SELECT. */
export const ENTRY_COLUMNS = 'id, organization_id, seq, occurred_at, event, actor_type, actor_id, action, resource_type, resource_id, diff, details, ip, user_agent, prev_hash, hash'

const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : (v ?? null))

/** A row as an entry. */
export function entryFromRow(r: AuditEntryRow): AuditEntry {
  return {
    id: r.id,
    organizationId: r.organization_id,
    seq: Number(r.seq),
    occurredAt: r.occurred_at instanceof Date ? r.occurred_at : new Date(r.occurred_at),
    event: r.event,
    actor: { type: r.actor_type, id: r.actor_id },
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    diff: json(r.diff) as AuditEntry['diff'],
    details: json(r.details) as AuditEntry['details'],
    ip: r.ip,
    userAgent: r.user_agent,
    prevHash: r.prev_hash,
    hash: r.hash,
  }
}

/** An entry as plain JSON (what the API and the JSON export send). */
export function entryToJson(e: AuditEntry): Record<string, unknown> {
  return { ...e, occurredAt: e.occurredAt.toISOString() }
}

/** An entry parsed back from its JSON form (an exported copy). */
export function entryFromJson(j: Record<string, unknown>): AuditEntry {
  return { ...(j as unknown as AuditEntry), seq: Number(j.seq), occurredAt: new Date(String(j.occurredAt)) }
}
