import type { FastifyRequest, RouteOptions } from 'fastify'
import { type Principal, type Role, roleAtLeast } from '../context/principal.js'
import { TollgateError } from '../errors/tollgate-error.js'
import { isUuid } from '../identity/identity-context.js'
import type { IdentityService } from '../identity/identity-service.js'
import type { RouteAuthz } from '../server/fastify-types.js'
import { setAccess } from './request-access.js'

/** onRoute check: every management route declares `config.authz`, or the gateway does not start. */
export function assertRouteHasAuthz(route: RouteOptions): void {
  const authz = (route.config as { authz?: RouteAuthz } | undefined)?.authz
  const method = Array.isArray(route.method) ? route.method.join(',') : route.method
  if (!authz?.scope || !authz.minRole) throw new Error(`management route ${method} ${route.url} has no config.authz rule`)
  if (authz.scope.kind === 'resource' || authz.scope.kind === 'organization') {
    if (!route.url.includes(`:${authz.scope.param}`)) throw new Error(`management route ${method} ${route.url}: authz param "${authz.scope.param}" is not in the path`)
  }
}

function notFound(): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
}

function tooLow(required: Role): TollgateError {
  return new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', `This action needs the ${required} role or higher`)
}

function missingField(field: string, where: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${field} is required (${where})`, { field })
}

/** The caller's role and grants in an organization, or undefined when they may not see it. */
async function membershipIn(identity: IdentityService, principal: Principal, organizationId: string, method: string): Promise<{ role: Role; projectIds?: readonly string[] } | undefined> {
  if (principal.kind === 'api_key') {
    // A key acts only in its own organization, with its effective role (capped by its owner's).
    if (principal.organizationId === organizationId) return { role: principal.role, projectIds: principal.projectIds }
  } else if (principal.organizationOnly) {
    // A session signed in to one organization (SSO) acts there only, with the member's current role.
    if (principal.organizationId === organizationId) {
      const m = await identity.membership(organizationId, principal.userId)
      if (m) return { role: m.role, projectIds: m.projectIds }
    }
  } else {
    const m = await identity.membership(organizationId, principal.userId)
    if (m) return { role: m.role, projectIds: m.projectIds }
  }
  // Platform administrators may read every organization.
  if (principal.platformAdmin && method === 'GET') return { role: 'viewer', projectIds: [] }
  return undefined
}

/**
 * The authorization hook (preValidation: after authentication and body parsing, before schema
 * validation, so a caller who may not act learns nothing about the schema). It resolves the
 * organization from the route's rule, then: not a member, another organization or no such
 * resource → 404; role below the rule → 403; a developer outside their granted projects → 404.
 */
export function createAuthzHook(identity: IdentityService) {
  return async function authorize(request: FastifyRequest): Promise<void> {
    const principal = request.principal
    const rule = request.routeOptions.config.authz
    if (!principal || !rule) throw new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', 'Internal error: route without authentication or authorization')
    const { scope, minRole } = rule
    if (scope.kind === 'none' || scope.kind === 'platform') {
      if (scope.kind === 'platform' && !principal.platformAdmin) throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Only platform administrators may do this')
      if (!roleAtLeast(principal.role, minRole)) throw tooLow(minRole)
      setAccess(request, { principal, role: principal.role, projectIds: principal.projectIds })
      return
    }
    let organizationId: unknown
    let projectId: string | undefined
    const params = request.params as Record<string, string | undefined>
    switch (scope.kind) {
      case 'organization':
        organizationId = params[scope.param]
        break
      case 'organization-query': {
        organizationId = (request.query as Record<string, unknown> | undefined)?.[scope.query]
        if (organizationId === undefined) throw missingField(scope.query, 'query string')
        break
      }
      case 'organization-body': {
        const body = request.body
        organizationId = body && typeof body === 'object' ? (body as Record<string, unknown>)[scope.field] : undefined
        if (organizationId === undefined) throw missingField(scope.field, 'body')
        break
      }
      case 'resource': {
        const found = await identity.resourceScope(scope.resource, params[scope.param] ?? '')
        if (!found) throw notFound()
        organizationId = found.organizationId
        projectId = found.projectId
        break
      }
    }
    if (!isUuid(organizationId)) throw notFound()
    const access = await membershipIn(identity, principal, organizationId, request.method)
    if (!access) throw notFound()
    if (!roleAtLeast(access.role, minRole)) throw tooLow(minRole)
    if (access.role === 'developer' && projectId !== undefined && !access.projectIds?.includes(projectId)) throw notFound()
    request.organizationId = organizationId
    request.scopedProjectId = projectId
    setAccess(request, { principal, role: access.role, projectIds: access.projectIds })
  }
}
