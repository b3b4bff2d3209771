import type { FastifyInstance } from 'fastify'
import { createAjv } from '../util/ajv.js'
import { createAuthenticateHook } from './authenticate-hook.js'
import { catalogErrorHandler } from '../server/error-handler.js'
import { assertRouteHasAuthz, createAuthzHook } from './authz.js'
import type { ManagementDeps } from './management-deps.js'
import { registerApiKeyRoutes } from './routes/api-key-routes.js'
import { registerCatalogRoutes } from './routes/catalog-routes.js'
import { registerInvitationRoutes } from './routes/invitation-routes.js'
import { registerMeRoutes } from './routes/me-routes.js'
import { registerMemberRoutes } from './routes/member-routes.js'
import { registerOrganizationRoutes } from './routes/organization-routes.js'
import { registerProjectRoutes } from './routes/project-routes.js'
import { registerProviderKeyRoutes } from './routes/provider-key-routes.js'
import { registerRoutingRoutes } from './routes/routing-routes.js'

export type { ManagementDeps } from './management-deps.js'

/**
 * Mounts the management API (`/v1/me`, organizations, projects, members, invitations, keys,
 * provider keys, catalog, providers, deployments, routing policies) on `app`, which must be an encapsulated scope holding only management
 * routes: the hooks added here apply to every route of the scope.
 *
 * - onRoute: a route without `config.authz` makes registration throw (the gateway does not start).
 * - onRequest: authentication (401 when missing or invalid).
 * - preValidation: authorization, before schema validation (404 outside the caller's
 *   organizations, 403 below the route's role).
 * - Bodies are validated without type coercion; errors render as `{ error: { code, message, field } }`.
 */
export async function registerManagementRoutes(app: FastifyInstance, deps: ManagementDeps): Promise<void> {
  const bodyAjv = createAjv({ allErrors: false, coerceTypes: false, removeAdditional: false })
  const urlAjv = createAjv({ allErrors: false, coerceTypes: 'array', removeAdditional: false })
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : urlAjv).compile(schema))
  // The scope renders its own errors (it must also work mounted on a bare fastify app).
  app.setErrorHandler(catalogErrorHandler())
  app.addHook('onRoute', assertRouteHasAuthz)
  app.addHook('onRequest', createAuthenticateHook(deps.authenticate))
  app.addHook('preValidation', createAuthzHook(deps.identity))

  registerMeRoutes(app, deps)
  registerOrganizationRoutes(app, deps)
  registerProjectRoutes(app, deps)
  registerMemberRoutes(app, deps)
  registerInvitationRoutes(app, deps)
  registerApiKeyRoutes(app, deps)
  registerProviderKeyRoutes(app, deps)
  registerCatalogRoutes(app, deps)
  registerRoutingRoutes(app, deps)
}
