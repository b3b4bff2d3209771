import type { FastifyRequest } from 'fastify'
import type { Principal, Role } from '../context/principal.js'
import { TollgateError } from '../errors/tollgate-error.js'
import type { Actor } from '../identity/identity-types.js'

/** What the authorization hook resolved for a request: the caller's role where the route acts. */
export interface RequestAccess {
  principal: Principal
  /** The caller's effective role in the organization acted on (or in their own, for routes about themselves). */
  role: Role
  /** Developer grants in that organization. */
  projectIds?: readonly string[]
}

const accessByRequest = new WeakMap<FastifyRequest, RequestAccess>()

/** Records the resolved access of a request (authorization hook). */
export function setAccess(request: FastifyRequest, access: RequestAccess): void {
  accessByRequest.set(request, access)
}

/** The resolved access of a request; throws if authorization did not run (fail closed). */
export function accessOf(request: FastifyRequest): RequestAccess {
  const access = accessByRequest.get(request)
  if (!access) throw new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', 'Internal error: the route ran without authorization')
  return access
}

/** The actor of a management request, for the identity service's role rules and the events' metadata. */
export function actorOf(request: FastifyRequest): Actor {
  const { principal, role, projectIds } = accessOf(request)
  return {
    userId: principal.userId,
    role,
    projectIds,
    platformAdmin: principal.platformAdmin,
    apiKeyId: principal.apiKeyId,
    ip: request.ip,
    userAgent: request.headers['user-agent'],
  }
}

/** The organization the authorization hook resolved (routes scoped to an organization). */
export function organizationOf(request: FastifyRequest): string {
  const id = request.organizationId
  if (!id) throw new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', 'Internal error: the route has no resolved organization')
  return id
}
