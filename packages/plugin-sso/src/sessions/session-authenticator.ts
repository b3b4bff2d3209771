import { credentialFrom, type IdentityService, type Principal, type RequestAuthenticator, TollgateError } from '@tollgate/core'
import type { ConnectionStore } from '../connections/connection-store.js'
import { safeEqual } from '../crypto/tokens.js'
import { readCookie } from './cookies.js'
import type { SessionStore } from './session-store.js'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The header a cookie-authenticated unsafe request must carry (double-submit of the CSRF cookie). */
export const CSRF_HEADER = 'x-csrf-token'

/**
 * Core's extra authenticator (tried after API keys): a session cookie becomes a principal acting
 * only in the organization it signed in to, with the member's current role. Unsafe methods need
 * the CSRF header; a request that also sends a Bearer credential is left to API-key auth, never mixed.
 */
export function createSessionAuthenticator(deps: { sessions: SessionStore; identity: IdentityService; connections: ConnectionStore; cookieName: string }): RequestAuthenticator {
  return async (request) => {
    if (credentialFrom(request.headers)) return undefined
    const token = readCookie(request, deps.cookieName)
    if (!token) return undefined
    const session = await deps.sessions.resolve(token)
    if (!session) return undefined
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER]
      if (typeof sent !== 'string' || !safeEqual(sent, deps.sessions.csrfFor(session.id))) {
        throw new TollgateError('TOLLGATE_ERR_SSO_CSRF', `A signed-in ${request.method} request needs the ${CSRF_HEADER} header set to the value of the CSRF cookie`, { field: CSRF_HEADER })
      }
    }
    const [membership, user] = await Promise.all([deps.identity.membership(session.organizationId, session.userId), deps.identity.getUser(session.userId)])
    if (!membership || !user) return undefined
    if (session.method === 'password') {
      // A password session dies when its organization starts enforcing SSO (unless it is the break-glass owner's).
      const policy = await deps.connections.policy(session.organizationId)
      if (policy.enforced && policy.breakGlassUserId !== session.userId) return undefined
    }
    const principal: Principal = {
      kind: 'session',
      organizationId: session.organizationId,
      userId: session.userId,
      role: membership.role,
      projectIds: membership.role === 'developer' ? [...membership.projectIds] : undefined,
      platformAdmin: user.platformAdmin,
      organizationOnly: true,
    }
    sessionByRequest.set(request, session.id)
    return principal
  }
}

const sessionByRequest = new WeakMap<object, string>()

/** The session id behind a request's principal, when it came from a session cookie. */
export function sessionIdOf(request: object): string | undefined {
  return sessionByRequest.get(request)
}
