import type { Principal } from '../context/principal.js'

/** Authorization rule of a management route: checked before validation, for every route. */
export interface RouteAuthz {
  /**
   * Where the organization comes from: a path param holding an organization id, or a resource
   * kind whose id is in a path param and whose organization is looked up ('none' for routes
   * about the caller alone, 'platform' for platform-admin routes).
   */
  scope:
    | { kind: 'none' }
    | { kind: 'platform' }
    | { kind: 'organization'; param: string }
    | { kind: 'organization-query'; query: string }
    | { kind: 'organization-body'; field: string }
    | { kind: 'resource'; resource: 'project' | 'api_key' | 'provider_key' | 'invitation' | 'member'; param: string }
  /** The least role that may call the route. */
  minRole: Principal['role']
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (set by the auth hook of authenticated scopes). */
    principal?: Principal
    /** The organization a management route acts on, resolved by the authorization hook. */
    organizationId?: string
    /** The project a resource belongs to, when the route's scope is a project-level resource. */
    scopedProjectId?: string
  }
  interface FastifyContextConfig {
    /** Authorization rule; every management route must have one. */
    authz?: RouteAuthz
  }
}
