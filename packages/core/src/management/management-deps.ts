import type { FastifyRequest } from 'fastify'
import type { ModelCatalog } from '../catalog/model-catalog.js'
import type { Principal, Role } from '../context/principal.js'
import type { EventBus } from '../events/event-bus.js'
import type { IdentityService } from '../identity/identity-service.js'
import type { RoutingService } from '../routing/routing-service.js'
import type { RouteAuthz } from '../server/fastify-types.js'

/** What the management API needs from the gateway. */
export interface ManagementDeps {
  identity: IdentityService
  catalog: ModelCatalog
  events: EventBus
  /** Providers, deployments and routing policies. */
  routing: RoutingService
  /** Resolves the caller (API key, or a session through a plugin); undefined answers 401. */
  authenticate: (request: FastifyRequest) => Promise<Principal | undefined>
}

/** Route config with an authorization rule: `config: rule(scope, minRole)`. */
export function rule(scope: RouteAuthz['scope'], minRole: Role): { authz: RouteAuthz } {
  return { authz: { scope, minRole } }
}
