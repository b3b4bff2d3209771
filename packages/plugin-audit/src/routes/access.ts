import { type IdentityService, type Principal, roleAtLeast, TollgateError } from '@tollgate/core'
import type { FastifyRequest } from 'fastify'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function principalOf(request: FastifyRequest): Principal {
  const p = request.principal
  if (!p) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Authentication required: send an API key or sign in')
  return p
}

/**
 * Who may read an organization's audit trail and request log: its owners and admins (with a
 * key or a session), and platform administrators (read-only, every organization). Anyone else
 * gets a 404 for an organization they are not in, a 403 when their role is too low.
 * `write` (retention changes) is for the organization's owners and admins only.
 */
export async function authorizeOrganization(request: FastifyRequest, identity: IdentityService, organizationId: string, access: 'read' | 'write' = 'read'): Promise<Principal> {
  const principal = principalOf(request)
  if (!UUID.test(organizationId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
  let role = principal.kind === 'api_key' ? (principal.organizationId === organizationId ? principal.role : undefined) : (await identity.membership(organizationId, principal.userId))?.role
  if (principal.kind === 'session' && role && principal.organizationId === organizationId && !roleAtLeast(principal.role, role)) role = principal.role
  if (role && roleAtLeast(role, 'admin')) return principal
  if (principal.platformAdmin && access === 'read') return principal
  if (!role) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
  throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Reading the audit trail needs the admin role or higher')
}

/** Platform-wide routes (every organization): platform administrators only. */
export function authorizePlatform(request: FastifyRequest): Principal {
  const principal = principalOf(request)
  if (!principal.platformAdmin) throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Only platform administrators may read every organization\'s audit data')
  return principal
}
