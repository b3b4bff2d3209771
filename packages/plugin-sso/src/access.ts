import { type IdentityService, type Role, roleAtLeast, TollgateError } from '@tollgate/core'
import type { FastifyRequest } from 'fastify'
import { isUuid } from './db.js'

/**
 * The caller's role in an organization, enforced like core's management authorization: not a
 * member (or a key or single-organization session of another organization) → 404, role too low → 403.
 */
export async function requireRole(identity: IdentityService, request: FastifyRequest, organizationId: string, min: Role): Promise<Role> {
  const p = request.principal
  if (!p || !isUuid(organizationId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
  let role: Role | undefined
  if (p.kind === 'api_key') role = p.organizationId === organizationId ? p.role : undefined
  else if (!p.organizationOnly || p.organizationId === organizationId) role = (await identity.membership(organizationId, p.userId))?.role
  if (!role) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
  if (!roleAtLeast(role, min)) throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', `This action needs the ${min} role or higher`)
  return role
}

/** Event actor of an authenticated request. */
export function actorMeta(request: FastifyRequest, organizationId?: string) {
  const p = request.principal
  return {
    organizationId,
    actor: p ? (p.apiKeyId ? { type: 'api_key' as const, id: p.apiKeyId } : { type: 'user' as const, id: p.userId }) : undefined,
    ip: request.ip,
    userAgent: request.headers['user-agent'],
  }
}
