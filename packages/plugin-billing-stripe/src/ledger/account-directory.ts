import { randomUUID } from 'node:crypto'
import { type Database, RefreshingCache, TollgateError, type TxEntityManager } from '@tollgate/core'
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
 * known, is cached for the life of the process. Whether a member has a personal (developer-plan)
 * account is cached for a few seconds, the members in use re-read together in the background, so
 * a request finds a new one within seconds of its creation.
 */
export class AccountDirectory {
  readonly #db: Database
  readonly #ids = new Map<string, string>()
  /** (org|user) → personal account id, or null when the member has none. */
  readonly #personal: RefreshingCache<string, string | null>

  constructor(db: Database, options: { personalTtlMs?: number; onRefreshError?: (err: unknown) => void } = {}) {
    this.#db = db
    this.#personal = new RefreshingCache({ ttlMs: options.personalTtlMs ?? 5_000, loadMany: (keys) => this.#personalAccounts(keys), onRefreshError: options.onRefreshError })
  }

  /** Stops the background re-reads. */
  close(): void {
    this.#personal.close()
  }

  /** The personal account of each (org|user) key, in order, in one query (inside the caller's transaction when one is given). */
  async #personalAccounts(keys: readonly string[], em?: TxEntityManager): Promise<(string | null)[]> {
    const pairs = keys.map((k) => k.split('|'))
    const rows = await (em ?? this.#db.orm.em.fork())
      .execute<{ organization_id: string; user_id: string; id: string }[]>(`select organization_id, user_id, id from billing_account where (organization_id, user_id) in (${pairs.map(() => '(?, ?)').join(',')})`, pairs.flat(), 'all')
    const found = new Map(rows.map((r) => [`${r.organization_id}|${r.user_id}`, r.id]))
    return keys.map((k) => found.get(k) ?? null)
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
      if (ref.userId) this.#personal.set(key, row.id)
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
      const found = this.#personal.get(key, async () => (await this.#personalAccounts([key], em))[0])
      const id = found instanceof Promise ? await found : found
      if (id) {
        this.#ids.set(key, id)
        return { ref: { organizationId, userId }, id }
      }
    }
    const ref = { organizationId }
    return { ref, id: await this.ensure(ref, em) }
  }

  /** Synchronous form of forMember for the hot path: undefined when the caches cannot answer. */
  forMemberCached(organizationId: string, userId: string | undefined): { ref: LedgerAccountRef; id: string } | undefined {
    if (userId) {
      const id = this.#personal.peek(`${organizationId}|${userId}`)
      if (id === undefined) return undefined
      if (id) return { ref: { organizationId, userId }, id }
    }
    const id = this.#ids.get(organizationId)
    return id ? { ref: { organizationId }, id } : undefined
  }
}
