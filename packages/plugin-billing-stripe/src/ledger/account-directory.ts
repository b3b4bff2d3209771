import { randomUUID } from 'node:crypto'
import { type Database, TollgateError, type TxEntityManager } from '@tollgate/core'
import type { LedgerAccountRef } from './ledger-types.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True when the text is a UUID. */
export function isUuid(text: unknown): text is string {
  return typeof text === 'string' && UUID.test(text)
}

function keyOf(ref: LedgerAccountRef): string {
  return ref.userId ? `${ref.organizationId}|${ref.userId}` : ref.organizationId
}

/**
 * Credit accounts by owner. Accounts are created on first use and never deleted, so an id, once
 * known, is cached for the life of the process. Personal (developer-plan) accounts are looked
 * up with a short-lived cache so a request finds one within seconds of its creation.
 */
export class AccountDirectory {
  readonly #db: Database
  readonly #ids = new Map<string, string>()
  /** (org|user) → personal account id or null, with the time it was checked. */
  readonly #personal = new Map<string, { id: string | null; at: number }>()
  readonly #personalTtlMs: number

  constructor(db: Database, options: { personalTtlMs?: number } = {}) {
    this.#db = db
    this.#personalTtlMs = options.personalTtlMs ?? 5_000
  }

  /** The account id of an owner, from the cache only. */
  cached(ref: LedgerAccountRef): string | undefined {
    return this.#ids.get(keyOf(ref))
  }

  /** The account id of an owner, creating the account when it does not exist yet. */
  async ensure(ref: LedgerAccountRef, em?: TxEntityManager): Promise<string> {
    const key = keyOf(ref)
    const known = this.#ids.get(key)
    if (known) return known
    if (!isUuid(ref.organizationId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'account.organizationId must be a UUID', { field: 'account.organizationId' })
    if (ref.userId !== undefined && !isUuid(ref.userId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'account.userId must be a UUID', { field: 'account.userId' })
    const tx = em ?? this.#db.orm.em.fork()
    await tx.execute('insert into billing_account (id, organization_id, user_id) values (?, ?, ?) on conflict do nothing', [randomUUID(), ref.organizationId, ref.userId ?? null], 'run')
    const [row] = await tx.execute<{ id: string }[]>('select id from billing_account where organization_id = ? and user_id is not distinct from ?', [ref.organizationId, ref.userId ?? null], 'all')
    // Only a committed row may be cached: inside a caller's transaction the account may still
    // roll back (or be invisible to other transactions until it commits).
    if (!em) {
      this.#ids.set(key, row.id)
      if (ref.userId) this.#personal.set(key, { id: row.id, at: Date.now() })
    } else if (ref.userId) {
      // Forget a cached "no personal account": the next lookup reads the committed state.
      this.#personal.delete(key)
    }
    return row.id
  }

  /** The owner of an account id (for entries read back by id). */
  async owner(accountId: string): Promise<LedgerAccountRef | undefined> {
    const [row] = await this.#db.orm.em.fork().execute<{ organization_id: string; user_id: string | null }[]>('select organization_id, user_id from billing_account where id = ?', [accountId], 'all')
    return row ? { organizationId: row.organization_id, ...(row.user_id ? { userId: row.user_id } : {}) } : undefined
  }

  /**
   * The account a member's requests are billed to: their personal developer-plan account in the
   * organization when they have one, otherwise the organization's. Cached for a few seconds.
   */
  async forMember(organizationId: string, userId: string | undefined, em?: TxEntityManager): Promise<{ ref: LedgerAccountRef; id: string }> {
    if (userId) {
      const key = `${organizationId}|${userId}`
      const hit = this.#personal.get(key)
      let id = hit && Date.now() - hit.at < this.#personalTtlMs ? hit.id : undefined
      if (id === undefined) {
        const rows = await (em ?? this.#db.orm.em.fork()).execute<{ id: string }[]>('select id from billing_account where organization_id = ? and user_id = ?', [organizationId, userId], 'all')
        id = rows[0]?.id ?? null
        this.#personal.set(key, { id, at: Date.now() })
        if (id) this.#ids.set(key, id)
      }
      if (id) return { ref: { organizationId, userId }, id }
    }
    const ref = { organizationId }
    return { ref, id: await this.ensure(ref, em) }
  }

  /** Synchronous form of forMember for the hot path: undefined when the caches cannot answer. */
  forMemberCached(organizationId: string, userId: string | undefined): { ref: LedgerAccountRef; id: string } | undefined {
    if (userId) {
      const hit = this.#personal.get(`${organizationId}|${userId}`)
      if (!hit || Date.now() - hit.at >= this.#personalTtlMs) return undefined
      if (hit.id) return { ref: { organizationId, userId }, id: hit.id }
    }
    const id = this.#ids.get(organizationId)
    return id ? { ref: { organizationId }, id } : undefined
  }
}
