import { TollgateError } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { actorMeta } from '../access.js'
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from '../crypto/password.js'
import { isUuid, query } from '../db.js'
import { loginFailure, requestMeta } from '../login/complete-login.js'
import type { SsoContext } from '../plugin-context.js'
import { clearSessionCookies, readCookie, setSessionCookies } from './cookies.js'
import { PasswordThrottle } from './password-throttle.js'
import { sessionIdOf } from './session-authenticator.js'

const passwordSchema = { type: 'string', minLength: 12, maxLength: 256 }

/**
 * Local sign-in (public): `POST /sso/login/password`. Allowed for users with a local password in
 * organizations that do not enforce SSO, and always for the organization's break-glass owner.
 * Failures take the same time whether the email is known or not.
 */
export function registerPasswordLogin(app: FastifyInstance, ctx: SsoContext): void {
  const throttle = new PasswordThrottle(ctx.db, ctx.config.passwordMaxFailures, ctx.config.passwordLockoutSeconds)
  app.post(
    '/login/password',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['organizationId', 'email', 'password'],
          properties: { organizationId: { type: 'string', format: 'uuid' }, email: { type: 'string', minLength: 3, maxLength: 320 }, password: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (request, reply) => {
      const { organizationId, email, password } = request.body as { organizationId: string; email: string; password: string }
      const invalid = async (reason: string) => {
        await throttle.fail(email)
        return loginFailure(ctx.events, request, { organizationId, method: 'password', reason, email, code: 'TOLLGATE_ERR_SSO_INVALID_CREDENTIALS', message: 'Wrong email or password' })
      }
      await throttle.check(email)
      const user = await ctx.identity.findUserByEmail(email)
      const [cred] = user ? await query<{ password_hash: string }>(ctx.db, 'select password_hash from sso_local_credential where user_id = ?', [user.id]) : []
      const ok = await verifyPassword(password, cred?.password_hash ?? DUMMY_PASSWORD_HASH)
      if (!user || !cred || !ok) throw await invalid(user ? 'wrong password or no local password' : 'unknown email')
      const membership = await ctx.identity.membership(organizationId, user.id)
      if (!membership) throw await invalid('not a member of the organization')
      const policy = await ctx.connections.policy(organizationId)
      if (policy.enforced && policy.breakGlassUserId !== user.id) {
        throw await loginFailure(ctx.events, request, {
          organizationId,
          method: 'password',
          reason: 'This organization signs in through its identity provider only',
          email,
          code: 'TOLLGATE_ERR_SSO_ACCESS_DENIED',
        })
      }
      const scim = await ctx.provisioner.scimState(organizationId, user.id)
      if (scim && !scim.active) throw await loginFailure(ctx.events, request, { organizationId, method: 'password', reason: 'The user is deactivated in this organization', email, code: 'TOLLGATE_ERR_SSO_ACCESS_DENIED' })
      await throttle.clear(email)
      const session = await ctx.sessions.issue({ userId: user.id, organizationId, method: 'password', ip: request.ip, userAgent: request.headers['user-agent'], replacing: readCookie(request, ctx.cookies.sessionName) })
      setSessionCookies(reply, ctx.cookies, session.token, session.csrfToken)
      await ctx.events.emit('sso.login.succeeded', { organizationId, userId: user.id, method: 'password', sessionId: session.id, provisioned: false }, requestMeta(request, organizationId, user.id))
      return reply.header('cache-control', 'no-store').send({ userId: user.id, organizationId, role: membership.role, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() })
    },
  )
}

/** Authenticated session routes: who am I, logout, logout everywhere, set my local password. */
export function registerSessionRoutes(app: FastifyInstance, ctx: SsoContext): void {
  app.get('/session', async (request) => {
    const p = request.principal
    if (!p) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Sign in first')
    const sessionId = sessionIdOf(request)
    return { kind: p.kind, userId: p.userId, organizationId: p.organizationId, role: p.role, sessionId: sessionId ?? null, csrfToken: sessionId ? ctx.sessions.csrfFor(sessionId) : null }
  })

  app.post('/logout', async (request, reply) => {
    const token = readCookie(request, ctx.cookies.sessionName)
    const ended = token ? await ctx.sessions.endByToken(token) : undefined
    clearSessionCookies(reply, ctx.cookies)
    if (ended) await ctx.events.emit('sso.logout', { organizationId: ended.organizationId, userId: ended.userId, sessionId: ended.id, all: false }, actorMeta(request, ended.organizationId))
    return reply.code(204).send()
  })

  app.post('/logout-all', async (request, reply) => {
    const p = request.principal
    if (!p) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Sign in first')
    const count = await ctx.sessions.endAllForUser(p.userId)
    clearSessionCookies(reply, ctx.cookies)
    await ctx.events.emit('sso.logout', { organizationId: p.organizationId, userId: p.userId, sessionId: sessionIdOf(request) ?? '', all: true }, actorMeta(request, p.organizationId))
    return reply.send({ sessionsEnded: count })
  })

  app.put(
    '/me/password',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['password'],
          properties: { password: passwordSchema, currentPassword: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (request, reply) => {
      const p = request.principal
      if (!p || !isUuid(p.userId)) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Sign in first')
      // A password becomes a session with the member's full role: a key capped below owner must not be able to mint one.
      if (p.kind === 'api_key' && p.role !== 'owner') throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Set your password from a signed-in session (or with an owner-role API key)')
      const { password, currentPassword } = request.body as { password: string; currentPassword?: string }
      const [existing] = await query<{ password_hash: string }>(ctx.db, 'select password_hash from sso_local_credential where user_id = ?', [p.userId])
      if (existing && !(currentPassword !== undefined && (await verifyPassword(currentPassword, existing.password_hash)))) {
        throw new TollgateError('TOLLGATE_ERR_SSO_INVALID_CREDENTIALS', 'currentPassword is missing or wrong', { field: 'currentPassword' })
      }
      await query(
        ctx.db,
        `insert into sso_local_credential (user_id, password_hash) values (?, ?)
         on conflict (user_id) do update set password_hash = excluded.password_hash, updated_at = now() returning user_id`,
        [p.userId, await hashPassword(password)],
      )
      await ctx.events.emit('sso.password.set', { organizationId: p.organizationId, userId: p.userId }, actorMeta(request, p.organizationId))
      return reply.code(204).send()
    },
  )
}
