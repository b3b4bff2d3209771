import type { Logger } from 'pino'
import { type Principal, type Role, minRole } from '../context/principal.js'
import type { Database } from '../data/database.js'
import { hashApiKey, looksLikeApiKey } from './api-key-secret.js'

interface KeyRow {
  id: string
  organization_id: string
  project_id: string
  owner_user_id: string
  name: string
  prefix: string
  role: Role
  app_name: string | null
  expires_at: Date | string | null
  member_role: Role | null
  platform_admin: boolean
  disabled_at: Date | string | null
  membership_id: string | null
}

interface CacheEntry {
  principal: Principal | undefined
  expiresAt: number
  keyExpiresAt: number | undefined
}

/**
 * Resolves an API key secret to its principal. Lookups are cached for a short time (default
 * 5 s) so the hot path makes no database round trip; revocation through this instance clears the
 * entry at once, other instances within the TTL. Last-used times are collected and written in
 * one statement every few seconds, never per request.
 *
 * The effective role is the lower of the key's role and its owner's current role, so a key
 * never exceeds its creator: demote the creator and the key follows.
 */
export class ApiKeyAuthenticator {
  readonly #db: Database
  readonly #log: Logger
  readonly #ttlMs: number
  readonly #cache = new Map<string, CacheEntry>()
  /** Lookups in flight, so concurrent first requests with one key share a single database query. */
  readonly #loading = new Map<string, Promise<CacheEntry>>()
  /** Bumped by invalidate(): a lookup that started before it is answered but not cached. */
  #generation = 0
  readonly #used = new Set<string>()
  readonly #timer: NodeJS.Timeout

  constructor(db: Database, log: Logger, options: { cacheTtlMs?: number; lastUsedFlushMs?: number } = {}) {
    this.#db = db
    this.#log = log
    this.#ttlMs = options.cacheTtlMs ?? 5000
    this.#timer = setInterval(() => void this.flushLastUsed(), options.lastUsedFlushMs ?? 5000)
    this.#timer.unref()
  }

  /** The principal of a key secret, or undefined when it is unknown, revoked, expired or its owner is gone. */
  async authenticate(secret: string): Promise<Principal | undefined> {
    if (!looksLikeApiKey(secret)) return undefined
    const now = Date.now()
    // Keyed by the secret itself: a cache hit costs no hash (the secret is in memory during the request anyway).
    let entry = this.#cache.get(secret)
    if (!entry || entry.expiresAt < now) entry = await this.#loadShared(secret, now)
    if (!entry.principal) return undefined
    if (entry.keyExpiresAt !== undefined && entry.keyExpiresAt <= now) return undefined
    this.#used.add(entry.principal.apiKeyId as string)
    return entry.principal
  }

  #loadShared(secret: string, now: number): Promise<CacheEntry> {
    const pending = this.#loading.get(secret)
    if (pending) return pending
    const generation = this.#generation
    const load = this.#load(hashApiKey(secret), now)
      .then((entry) => {
        if (generation === this.#generation) {
          if (this.#cache.size > 100_000) this.#cache.clear()
          this.#cache.set(secret, entry)
        }
        return entry
      })
      .finally(() => this.#loading.delete(secret))
    this.#loading.set(secret, load)
    return load
  }

  async #load(hash: string, now: number): Promise<CacheEntry> {
    const rows = await this.#db.orm.em.fork().execute<KeyRow[]>(
      `select k.id, k.organization_id, k.project_id, k.owner_user_id, k.name, k.prefix, k.role, k.app_name, k.expires_at,
              m.role as member_role, m.id as membership_id, u.platform_admin, u.disabled_at
         from core_api_key k
         join core_user u on u.id = k.owner_user_id
         left join core_membership m on m.organization_id = k.organization_id and m.user_id = k.owner_user_id
         join core_project p on p.id = k.project_id and p.deleted_at is null
        where k.secret_hash = ? and k.revoked_at is null`,
      [hash],
      'all',
    )
    const row = rows[0]
    const expiresAt = now + this.#ttlMs
    if (!row?.member_role || row.disabled_at) return { principal: undefined, expiresAt, keyExpiresAt: undefined }
    let projectIds: string[] | undefined
    const role = minRole(row.role, row.member_role)
    if (role === 'developer' && row.membership_id) {
      const grants = await this.#db.orm.em.fork().execute<{ project_id: string }[]>('select project_id from core_membership_project where membership_id = ?', [row.membership_id], 'all')
      projectIds = grants.map((g) => g.project_id)
    }
    const principal: Principal = {
      kind: 'api_key',
      organizationId: row.organization_id,
      projectId: row.project_id,
      apiKeyId: row.id,
      apiKeyPrefix: row.prefix,
      apiKeyName: row.name,
      userId: row.owner_user_id,
      role,
      projectIds,
      platformAdmin: row.platform_admin,
      appName: row.app_name ?? undefined,
    }
    return { principal, expiresAt, keyExpiresAt: row.expires_at ? new Date(row.expires_at).getTime() : undefined }
  }

  /** Drops every cached lookup (after a revocation, a role change, a member removal). */
  invalidate(): void {
    this.#generation++
    this.#loading.clear()
    this.#cache.clear()
  }

  /** Writes the last-used time of every key used since the previous flush, in one statement. */
  async flushLastUsed(): Promise<void> {
    if (this.#used.size === 0) return
    const ids = [...this.#used]
    this.#used.clear()
    try {
      await this.#db.orm.em.fork().execute(`update core_api_key set last_used_at = now() where id in (${ids.map(() => '?').join(',')})`, ids, 'run')
    } catch (err) {
      this.#log.warn({ err }, 'could not record API key last-used times')
    }
  }

  /** Stops the timer and writes pending last-used times. */
  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flushLastUsed()
  }
}
