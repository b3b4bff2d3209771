import { type Database, TollgateError } from '@tollgate/core'
import { query, toDate } from '../db.js'

/**
 * Counts failed password sign-ins per email in the database (so the limit holds across
 * instances): after `maxFailures` within the window, attempts get 429 until the oldest failure
 * leaves it. A success clears the email's failures.
 */
export class PasswordThrottle {
  constructor(
    private readonly db: Database,
    private readonly maxFailures: number,
    private readonly windowSeconds: number,
  ) {}

  /** Throws TOO_MANY_ATTEMPTS (with Retry-After) when the email is locked out. */
  async check(email: string): Promise<void> {
    const recent = await query<{ failed_at: Date | string }>(
      this.db,
      `select failed_at from sso_password_failure where email = ? and failed_at > now() - (? * interval '1 second') order by failed_at desc limit ?`,
      [email.toLowerCase(), this.windowSeconds, this.maxFailures],
    )
    if (recent.length < this.maxFailures) return
    const oldest = toDate(recent[recent.length - 1].failed_at).getTime()
    const retryAfter = Math.max(1, Math.ceil((oldest + this.windowSeconds * 1000 - Date.now()) / 1000))
    throw new TollgateError('TOLLGATE_ERR_SSO_TOO_MANY_ATTEMPTS', `Too many failed sign-ins for this email; try again in ${retryAfter} s`, { retryAfter, headers: { 'retry-after': String(retryAfter) } })
  }

  /** Records a failure. */
  async fail(email: string): Promise<void> {
    await query(this.db, 'insert into sso_password_failure (email) values (?) returning email', [email.toLowerCase()])
  }

  /** Clears an email's failures after a successful sign-in. */
  async clear(email: string): Promise<void> {
    await query(this.db, 'delete from sso_password_failure where email = ? returning email', [email.toLowerCase()])
  }
}
