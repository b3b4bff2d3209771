import type { Database } from '@tollgate/core'
import { randomToken } from '../crypto/tokens.js'
import { query, toDate } from '../db.js'

/** A started sign-in, kept in the database so the callback may land on any instance. */
export interface LoginState {
  state: string
  organizationId: string
  protocol: 'oidc' | 'saml'
  codeVerifier: string | null
  nonce: string | null
  samlRequestId: string | null
  returnTo: string
  createdAt: Date
}

interface Row {
  state: string
  organization_id: string
  protocol: 'oidc' | 'saml'
  code_verifier: string | null
  nonce: string | null
  saml_request_id: string | null
  return_to: string
  expires_at: Date | string
}

/** Single-use sign-in state: created at login, consumed (deleted) at the callback whatever its outcome. */
export class LoginStateStore {
  constructor(
    private readonly db: Database,
    private readonly ttlSeconds: number,
  ) {}

  /** Stores a new sign-in and returns its state value (also the SAML RelayState). */
  async create(input: { organizationId: string; protocol: 'oidc' | 'saml'; codeVerifier?: string; nonce?: string; returnTo: string }): Promise<string> {
    const state = randomToken()
    await query(
      this.db,
      `insert into sso_login_state (state, organization_id, protocol, code_verifier, nonce, return_to, expires_at)
       values (?, ?, ?, ?, ?, ?, now() + (? * interval '1 second')) returning state`,
      [state, input.organizationId, input.protocol, input.codeVerifier ?? null, input.nonce ?? null, input.returnTo, this.ttlSeconds],
    )
    return state
  }

  /** Records the SAML AuthnRequest id of a sign-in (node-saml's cache hook). */
  async setSamlRequestId(state: string, requestId: string): Promise<void> {
    await query(this.db, 'update sso_login_state set saml_request_id = ? where state = ? returning state', [requestId, state])
  }

  /** Takes a sign-in out of the store: undefined when unknown, expired, or for another organization or protocol. */
  async consume(state: string, organizationId: string, protocol: 'oidc' | 'saml'): Promise<LoginState | undefined> {
    const [row] = await query<Row>(
      this.db,
      'delete from sso_login_state where state = ? returning state, organization_id, protocol, code_verifier, nonce, saml_request_id, return_to, expires_at',
      [state],
    )
    if (!row || row.organization_id !== organizationId || row.protocol !== protocol) return undefined
    const expiresAt = toDate(row.expires_at)
    if (expiresAt.getTime() <= Date.now()) return undefined
    return {
      state: row.state,
      organizationId: row.organization_id,
      protocol: row.protocol,
      codeVerifier: row.code_verifier,
      nonce: row.nonce,
      samlRequestId: row.saml_request_id,
      returnTo: row.return_to,
      createdAt: new Date(expiresAt.getTime() - this.ttlSeconds * 1000),
    }
  }

  /** Deletes expired sign-ins and replay-cache entries (a worker calls it). */
  async purgeExpired(): Promise<number> {
    const a = await query(this.db, 'delete from sso_login_state where expires_at <= now() returning state')
    const b = await query(this.db, 'delete from sso_saml_assertion where expires_at <= now() returning assertion_id')
    const c = await query(this.db, "delete from sso_password_failure where failed_at <= now() - interval '1 day' returning email")
    return a.length + b.length + c.length
  }
}

/** A safe post-login destination: a same-origin absolute path, never `//host` or a scheme. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || /[\r\n]/.test(value) || value.length > 2048) return '/'
  return value
}
