import type { ModelCatalog } from '../catalog/model-catalog.js'
import type { Database } from '../data/database.js'
import type { ApiKeyAuthenticator } from '../identity/api-key-authenticator.js'
import type { IdentityService } from '../identity/identity-service.js'
import { createExtensionPoint, createServiceRef } from '../plugin/services.js'
import type { ProviderRegistry } from '../providers/provider-registry.js'
import type { RoutingService } from '../routing/routing-service.js'
import type { UsageWriter } from '../usage/usage-writer.js'
import type { FastifyRequest } from 'fastify'
import type { Principal } from '../context/principal.js'

/** Resolves a request to a principal by some other means than an API key (the SSO plugin's sessions). */
export type RequestAuthenticator = (request: FastifyRequest) => Promise<Principal | undefined>

/** Refs of the services core provides to plugins. */
export const CoreServices = {
  database: createServiceRef<Database>('core.database'),
  catalog: createServiceRef<ModelCatalog>('core.catalog'),
  apiKeys: createServiceRef<ApiKeyAuthenticator>('core.apiKeys'),
  identity: createServiceRef<IdentityService>('core.identity'),
  providers: createServiceRef<ProviderRegistry>('core.providers'),
  usageWriter: createServiceRef<UsageWriter>('core.usageWriter'),
  /** Routing: policies, deployments, circuit breakers and rate limits. */
  routing: createServiceRef<RoutingService>('core.routing'),
} as const

/** Extension points core reads. */
export const CoreExtensions = {
  /** Extra authenticators for management and plugin routes (tried after API keys). */
  authenticators: createExtensionPoint<RequestAuthenticator>('core.authenticators'),
} as const
