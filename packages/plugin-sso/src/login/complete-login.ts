import { type EventMeta, TollgateError } from '@tollgate/core'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ConnectionStore } from '../connections/connection-store.js'
import type { SignInMethod } from '../events.js'
import type { SsoEvents } from '../plugin-context.js'
import { type CookieSettings, readCookie, setSessionCookies } from '../sessions/cookies.js'
import type { SessionStore } from '../sessions/session-store.js'
import type { AssertedIdentity, Provisioner } from './provisioning.js'

/** Event metadata of an unauthenticated sign-in request (origin only, or the user once known). */
export function requestMeta(request: FastifyRequest, organizationId?: string, userId?: string): Partial<EventMeta> {
  return { organizationId, actor: userId ? { type: 'user', id: userId } : { type: 'system', id: 'sso' }, ip: request.ip, userAgent: request.headers['user-agent'] }
}

/** Emits sso.login.failed and returns the error to throw (the reason is logged in the event, the client gets a generic message for IdP failures). */
export async function loginFailure(
  events: SsoEvents,
  request: FastifyRequest,
  input: { organizationId?: string; method: SignInMethod; reason: string; email?: string; code?: 'TOLLGATE_ERR_SSO_LOGIN_FAILED' | 'TOLLGATE_ERR_SSO_ACCESS_DENIED' | 'TOLLGATE_ERR_SSO_INVALID_CREDENTIALS'; message?: string },
): Promise<TollgateError> {
  await events.emit('sso.login.failed', { organizationId: input.organizationId, method: input.method, reason: input.reason, email: input.email }, requestMeta(request, input.organizationId))
  const code = input.code ?? 'TOLLGATE_ERR_SSO_LOGIN_FAILED'
  return new TollgateError(code, input.message ?? (code === 'TOLLGATE_ERR_SSO_LOGIN_FAILED' ? `Sign-in failed: ${input.reason}` : input.reason))
}

/** What finishing a federated sign-in needs. */
export interface LoginCompleterDeps {
  provisioner: Provisioner
  sessions: SessionStore
  connections: ConnectionStore
  events: SsoEvents
  cookies: CookieSettings
}

/**
 * Finishes an OIDC or SAML sign-in once the IdP response is verified: finds or creates the user,
 * refuses deactivated users and users no rule gives a role, syncs their membership, issues a new
 * session (the old cookie's session is ended: rotation) and redirects to the saved destination.
 */
export async function completeFederatedLogin(
  deps: LoginCompleterDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  input: { organizationId: string; method: 'oidc' | 'saml'; asserted: AssertedIdentity; returnTo: string },
): Promise<FastifyReply> {
  const { organizationId, method, asserted } = input
  const fail = (reason: string) => loginFailure(deps.events, request, { organizationId, method, reason, email: asserted.email, code: 'TOLLGATE_ERR_SSO_ACCESS_DENIED' })
  const policy = await deps.connections.policy(organizationId)
  const { userId, created } = await deps.provisioner.userFor(organizationId, asserted)
  const scim = await deps.provisioner.scimState(organizationId, userId)
  if (scim && !scim.active) throw await fail('The user is deactivated in this organization')
  const groups = [...new Set([...(scim?.groups ?? []), ...asserted.groups])]
  const role = await deps.provisioner.syncMembership(organizationId, userId, groups, policy)
  if (!role) throw await fail('None of the user\'s groups maps to a role in this organization and it has no default role')
  await deps.provisioner.link(organizationId, asserted.subject, userId, asserted.groups)
  const session = await deps.sessions.issue({
    userId,
    organizationId,
    method,
    ip: request.ip,
    userAgent: request.headers['user-agent'],
    replacing: readCookie(request, deps.cookies.sessionName),
  })
  setSessionCookies(reply, deps.cookies, session.token, session.csrfToken)
  await deps.events.emit('sso.login.succeeded', { organizationId, userId, method, sessionId: session.id, provisioned: created }, requestMeta(request, organizationId, userId))
  return reply.code(303).header('location', input.returnTo).header('cache-control', 'no-store').send()
}
