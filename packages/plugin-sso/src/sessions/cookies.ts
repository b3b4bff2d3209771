import { parseCookie, stringifySetCookie } from 'cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** Cookie settings of the plugin. */
export interface CookieSettings {
  sessionName: string
  csrfName: string
  secure: boolean
  sessionTtlSeconds: number
}

/** The name of the short-lived cookie that binds a started sign-in to the browser that started it. */
export const LOGIN_STATE_COOKIE = 'tollgate_sso_state'

/** A cookie of the request (parsed from the header: core's scopes do not register the cookie plugin). */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie
  if (!header) return undefined
  const value = parseCookie(header)[name]
  return value && value.length > 0 ? value : undefined
}

function append(reply: FastifyReply, cookie: string): void {
  const existing = reply.getHeader('set-cookie')
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]
  reply.header('set-cookie', [...list, cookie])
}

/** Sets the session cookie (HttpOnly, SameSite=Lax) and the CSRF cookie (readable by the page, for the double-submit header). */
export function setSessionCookies(reply: FastifyReply, s: CookieSettings, token: string, csrfToken: string): void {
  append(reply, stringifySetCookie({ name: s.sessionName, value: token,  httpOnly: true, secure: s.secure, sameSite: 'lax', path: '/', maxAge: s.sessionTtlSeconds }))
  append(reply, stringifySetCookie({ name: s.csrfName, value: csrfToken,  httpOnly: false, secure: s.secure, sameSite: 'strict', path: '/', maxAge: s.sessionTtlSeconds }))
}

/** Expires the session and CSRF cookies. */
export function clearSessionCookies(reply: FastifyReply, s: CookieSettings): void {
  append(reply, stringifySetCookie({ name: s.sessionName, value: '',  httpOnly: true, secure: s.secure, sameSite: 'lax', path: '/', maxAge: 0 }))
  append(reply, stringifySetCookie({ name: s.csrfName, value: '',  httpOnly: false, secure: s.secure, sameSite: 'strict', path: '/', maxAge: 0 }))
}

/**
 * Sets the sign-in binding cookie. SAML posts back cross-site, so SameSite=None (which browsers
 * accept only with Secure); OIDC returns with a top-level GET, so Lax is enough.
 */
export function setLoginStateCookie(reply: FastifyReply, s: CookieSettings, state: string, ttlSeconds: number, crossSitePost: boolean): void {
  const sameSite = crossSitePost && s.secure ? 'none' : 'lax'
  append(reply, stringifySetCookie({ name: LOGIN_STATE_COOKIE, value: state,  httpOnly: true, secure: s.secure, sameSite, path: '/sso', maxAge: ttlSeconds }))
}

/** Expires the sign-in binding cookie. */
export function clearLoginStateCookie(reply: FastifyReply, s: CookieSettings): void {
  append(reply, stringifySetCookie({ name: LOGIN_STATE_COOKIE, value: '',  httpOnly: true, secure: s.secure, sameSite: 'lax', path: '/sso', maxAge: 0 }))
}
