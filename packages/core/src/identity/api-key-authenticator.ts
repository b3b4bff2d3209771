import type { Logger } from 'pino'
import { type Principal, type Role, minRole } from '../context/principal.js'
import type { Database } from '../data/database.js'
import { RefreshingCache } from '../util/refreshing-cache.js'
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
  keyExpiresAt: number | undefined
}

/**
 * Resolves an API key secret to its principal. Lookups are cached (default TTL 5 s) so the hot
 * path makes no database round trip: the keys in use are re-read together in one query every
 * half TTL while their cached answer keeps being served, so a revocation or role change made on
 * another instance takes effect within about the TTL, and no request waits on the database for a
 * key it had a moment ago (a key whose re-reads keep failing stops being served after 3 × TTL).
 * Revocation through this instance clears the cache at once. Last-used times are collected and
 * written in one statement every few seconds, never per request.
 *
 * The effective role is the lower of the key's role and its owner's current role, so a key
 * never exceeds its creator: demote the creator and the key follows.
 */
export class ApiKeyAuthenticator {
  readonly #db: Database
  readonly #log: Logger
  /** Keyed by the secret itself: a cache hit costs no hash (the secret is in memory during the request anyway). */
  readonly #cache: RefreshingCache<string, CacheEntry>
  readonly #used = new Set<string>()
  readonly #timer: NodeJS.Timeout

  constructor(db: Database, log: Logger, options: { cacheTtlMs?: number; lastUsedFlushMs?: number } = {}) {
    this.#db = db
    this.#log = log
    this.#cache = new RefreshingCache({
      ttlMs: options.cacheTtlMs ?? 5000,
      loadMany: (secrets) => this.#load(secrets),
      onRefreshError: (err) => this.#log.warn({ err }, 'could not re-read cached API keys; serving the cached answers until they are too old'),
    })
    this.#timer = setInterval(() => void this.flushLastUsed(), options.lastUsedFlushMs ?? 5000)
    this.#timer.unref()
  }

  /** The principal of a key secret, or undefined when it is unknown, revoked, expired or its owner is gone. */
  async authenticate(secret: string): Promise<Principal | undefined> {
    if (!looksLikeApiKey(secret)) return undefined
    const found = this.#cache.get(secret)
    const entry = found instanceof Promise ? await found : found
    if (!entry.principal) return undefined
    if (entry.keyExpiresAt !== undefined && entry.keyExpiresAt <= Date.now()) return undefined
    this.#used.add(entry.principal.apiKeyId as string)
    return entry.principal
  }

  /** The current answer for each secret, in order, in one query (plus one for developer keys' project grants). */
  async #load(secrets: readonly string[]): Promise<CacheEntry[]> {
    const hashes = secrets.map(hashApiKey)
    const rows = await this.#db.orm.em.fork().execute<(KeyRow & { secret_hash: string })[]>(
      `select k.secret_hash, k.id, k.organization_id, k.project_id, k.owner_user_id, k.name, k.prefix, k.role, k.app_name, k.expires_at,
              m.role as member_role, m.id as membership_id, u.platform_admin, u.disabled_at
         from core_api_key k
         join core_user u on u.id = k.owner_user_id
         left join core_membership m on m.organization_id = k.organization_id and m.user_id = k.owner_user_id
         join core_project p on p.id = k.project_id and p.deleted_at is null
        where k.secret_hash in (${hashes.map(() => '?').join(',')}) and k.revoked_at is null`,
      hashes,
      'all',
    )
    const byHash = new Map(rows.map((r) => [r.secret_hash, r]))
    const developers = rows.filter((r) => r.member_role && !r.disabled_at && r.membership_id && minRole(r.role, r.member_role) === 'developer').map((r) => r.membership_id as string)
    const grants = new Map<string, string[]>()
    if (developers.length > 0) {
      const granted = await this.#db.orm.em
        .fork()
        .execute<{ membership_id: string; project_id: string }[]>(`select membership_id, project_id from core_membership_project where membership_id in (${developers.map(() => '?').join(',')})`, developers, 'all')
      for (const id of developers) grants.set(id, [])
      for (const g of granted) grants.get(g.membership_id)?.push(g.project_id)
    }
    return hashes.map((hash) => {
      const row = byHash.get(hash)
      if (!row?.member_role || row.disabled_at) return { principal: undefined, keyExpiresAt: undefined }
      const role = minRole(row.role, row.member_role)
      const principal: Principal = {
        kind: 'api_key',
        organizationId: row.organization_id,
        projectId: row.project_id,
        apiKeyId: row.id,
        apiKeyPrefix: row.prefix,
        apiKeyName: row.name,
        userId: row.owner_user_id,
        role,
        projectIds: role === 'developer' && row.membership_id ? grants.get(row.membership_id) : undefined,
        platformAdmin: row.platform_admin,
        appName: row.app_name ?? undefined,
      }
      return { principal, keyExpiresAt: row.expires_at ? new Date(row.expires_at).getTime() : undefined }
    })
  }

  /** Drops every cached lookup (after a revocation, a role change, a member removal). */
  invalidate(): void {
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
    this.#cache.close()
    await this.flushLastUsed()
  }
}
