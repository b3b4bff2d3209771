import { randomUUID } from 'node:crypto'
import type { Database } from '@tollgate/core'
import { hmac, randomToken, sha256 } from '../crypto/tokens.js'
import { type Em, query, rows, toDate } from '../db.js'
import type { SignInMethod } from '../events.js'

/** A live session. */
export interface Session {
  id: string
  userId: string
  organizationId: string
  method: SignInMethod
  createdAt: Date
  expiresAt: Date
}

/** A new session: the cookie token and CSRF token are in here only (the table holds a hash). */
export interface IssuedSession extends Session {
  token: string
  csrfToken: string
}

interface SessionRow {
  id: string
  user_id: string
  organization_id: string
  method: SignInMethod
  created_at: Date | string
  last_seen_at: Date | string
  expires_at: Date | string
}

const TOUCH_EVERY_MS = 60_000

/**
 * Sessions in the database, so every instance sees a logout at once. The cookie carries a random
 * token; the table holds its SHA-256. The CSRF token is an HMAC of the session id under a key
 * derived from the plugin's key: nothing to store, and useless without the cookie's session.
 */
export class SessionStore {
  constructor(
    private readonly db: Database,
    private readonly csrfKey: Buffer,
    private readonly ttlSeconds: number,
    private readonly idleSeconds: number,
  ) {}

  /** Issues a session; `replacing` (the caller's current cookie token) is deleted first, so a login always rotates the token. */
  async issue(input: { userId: string; organizationId: string; method: SignInMethod; ip?: string; userAgent?: string; replacing?: string }): Promise<IssuedSession> {
    if (input.replacing) await this.endByToken(input.replacing)
    const token = randomToken('tgs_')
    const id = randomUUID()
    const [row] = await query<SessionRow>(
      this.db,
      `insert into sso_session (id, token_hash, user_id, organization_id, method, expires_at, ip, user_agent)
       values (?, ?, ?, ?, ?, now() + (? * interval '1 second'), ?, ?) returning id, user_id, organization_id, method, created_at, last_seen_at, expires_at`,
      [id, sha256(token), input.userId, input.organizationId, input.method, this.ttlSeconds, input.ip ?? null, input.userAgent?.slice(0, 512) ?? null],
    )
    return { ...this.#view(row), token, csrfToken: this.csrfFor(id) }
  }

  /** The live session of a cookie token (not expired, not idle too long), refreshing its last-seen time at most once a minute. */
  async resolve(token: string): Promise<Session | undefined> {
    const [row] = await query<SessionRow>(this.db, 'select id, user_id, organization_id, method, created_at, last_seen_at, expires_at from sso_session where token_hash = ?', [sha256(token)])
    if (!row) return undefined
    const now = Date.now()
    const lastSeen = toDate(row.last_seen_at).getTime()
    if (toDate(row.expires_at).getTime() <= now || lastSeen + this.idleSeconds * 1000 <= now) {
      await query(this.db, 'delete from sso_session where id = ? returning id', [row.id])
      return undefined
    }
    if (now - lastSeen > TOUCH_EVERY_MS) await query(this.db, 'update sso_session set last_seen_at = now() where id = ? returning id', [row.id])
    return this.#view(row)
  }

  /** The CSRF token of a session. */
  csrfFor(sessionId: string): string {
    return hmac(this.csrfKey, `csrf:${sessionId}`)
  }

  /** Ends the session of a cookie token; returns it when there was one. */
  async endByToken(token: string): Promise<Session | undefined> {
    const [row] = await query<SessionRow>(this.db, 'delete from sso_session where token_hash = ? returning id, user_id, organization_id, method, created_at, last_seen_at, expires_at', [sha256(token)])
    return row ? this.#view(row) : undefined
  }

  /** Ends every session of a user (all organizations); returns how many. */
  async endAllForUser(userId: string, em?: Em): Promise<number> {
    const sql = 'delete from sso_session where user_id = ? returning id'
    return (em ? await rows(em, sql, [userId]) : await query(this.db, sql, [userId])).length
  }

  /** Ends a user's sessions in one organization (deactivation); returns how many. */
  async endForUserInOrganization(em: Em, userId: string, organizationId: string): Promise<number> {
    return (await rows(em, 'delete from sso_session where user_id = ? and organization_id = ? returning id', [userId, organizationId])).length
  }

  /** Ends the password sessions of an organization except the break-glass owner's (SSO just became enforced). */
  async endPasswordSessions(em: Em, organizationId: string, exceptUserId: string | null): Promise<number> {
    return (await rows(em, "delete from sso_session where organization_id = ? and method = 'password' and user_id is distinct from ? returning id", [organizationId, exceptUserId])).length
  }

  /** Deletes expired sessions (a worker calls it). */
  async purgeExpired(): Promise<number> {
    return (await query(this.db, `delete from sso_session where expires_at <= now() or last_seen_at <= now() - (? * interval '1 second') returning id`, [this.idleSeconds])).length
  }

  #view(r: SessionRow): Session {
    return { id: r.id, userId: r.user_id, organizationId: r.organization_id, method: r.method, createdAt: toDate(r.created_at), expiresAt: toDate(r.expires_at) }
  }
}
