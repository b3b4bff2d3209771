/**
 * @tollgate/core — the request pipeline, plugin host, providers, identity, usage events and data
 * layer of a Tollgate LLM gateway. Public surface only: everything else is internal.
 */
import 'reflect-metadata'

// Gateway assembly
export { createGateway, validateGatewayConfig, type Gateway, type GatewayOptions } from './gateway.js'
export { gatewayConfigSchema, type GatewayConfig } from './config/gateway-config.js'

// Plugin contract
export { definePlugin, type PluginDefinition, type PluginInstance, type PluginFactory, type PluginMigration, type JsonSchema } from './plugin/define-plugin.js'
export type { PluginHost, RouteScopeOptions } from './plugin/plugin-host.js'
export { REQUEST_HOOKS, APP_HOOKS, type RequestHookMap, type AppHookMap, type RequestHookName, type AppHookName, type HookName, type UpstreamHead } from './plugin/hooks.js'
export { createServiceRef, createExtensionPoint, type ServiceRef, type ExtensionPoint, ServiceRegistry } from './plugin/services.js'
export { CoreServices, CoreExtensions, type RequestAuthenticator } from './services/core-services.js'

// Request context
export { createStateKey, PluginState, type StateKey } from './context/plugin-state.js'
export { ROLES, ROLE_RANK, roleAtLeast, minRole, type Role, type Principal } from './context/principal.js'
export type { RequestContext, RouteChoice, Cost, Timings, RequestOutcome, FailedAttempt } from './context/request-context.js'

// Canonical shapes
export {
  emptyUsage,
  requestTexts,
  type WireProtocol,
  type ContentPart,
  type MessageRole,
  type CanonicalMessage,
  type ToolDefinition,
  type ToolChoice,
  type CanonicalRequest,
  type FinishReason,
  type CanonicalChoice,
  type Usage,
  type CanonicalResponse,
  type StreamEvent,
  type ResponseChunk,
} from './canonical/types.js'
export { DeferredChunk } from './canonical/deferred-chunk.js'

// Errors
export { CORE_ERRORS, type CoreErrorCode, type ErrorSpec, type OpenAIErrorType, type AnthropicErrorType } from './errors/catalog.js'
export { TollgateError, isTollgateError, toTollgateError, defineErrorCatalog, errorSpec, registeredErrorCodes, type TollgateErrorOptions } from './errors/tollgate-error.js'
export { openAIErrorBody, anthropicErrorBody, managementErrorBody, errorBodyFor } from './errors/render.js'

// Events, metrics, workers
export { EventBus, type DomainEvents, type DomainEventName, type EventMeta, type EventHandler, type AnyEventHandler, type AnyEventOptions } from './events/event-bus.js'
export type { Change } from './events/core-events.js'
export { MetricsRegistry, type MetricOptions } from './metrics/metrics-registry.js'
export { CORE_METRICS, PLUGIN_METRICS, GATEWAY_METRICS, LATENCY_BUCKETS, OVERHEAD_BUCKETS, type MetricDefinition, type MetricKind } from './observability/metric-catalog.js'
export { AccessLog, REDACT_PATHS, type AccessLogOptions } from './observability/access-log.js'
export { RequestTracer, type TracingOptions } from './observability/tracing.js'
export { GatewayMetrics, type GatewayMetricsSources } from './observability/gateway-metrics.js'
export { type MetricsEndpointOptions, type MetricsServer, startMetricsServer } from './observability/metrics-endpoint.js'
export { WorkerRunner, lockKeyFor, type WorkerDefinition } from './workers/worker-runner.js'

// Data
export { openDatabase, migrateDatabase, pendingMigrations, type Database, type DatabaseOptions, type Orm } from './data/database.js'
export { CORE_ENTITIES, User, Organization, Membership, Project, Invitation, ApiKey, ProviderKey, Model } from './data/entities.js'
export { CORE_MIGRATIONS } from './data/migrations/index.js'

// Usage events
export type { UsageEvent, StoredUsageEvent } from './usage/usage-event.js'
export { compareUsageCursors, type TxEntityManager, type UsageCursor, type UsageEventField, UsageEventReader } from './usage/usage-reader.js'
export { UsageWriter, type UsageWriterOptions } from './usage/usage-writer.js'
export { estimateInputTokens, estimateTextTokens, estimateUsage } from './usage/token-estimator.js'

// Catalog and money
export { ModelCatalog, computeCost, modelFromConfig, type CatalogModel, type ModelConfig, type ModelPrices } from './catalog/model-catalog.js'
export { costOf, formatUsd, parseUsd, parseDecimal, formatDecimal, parsePricePerMillion, formatPricePerMillion, type Picodollars, type MicrodollarsPerMillion } from './util/money.js'
export { isTimeZone, type LocalParts, localParts, localToUtc, offsetAt } from './util/time-zone.js'
export { RefreshingCache, type RefreshingCacheOptions } from './util/refreshing-cache.js'

// Providers and protocols
export { UpstreamError, type ProviderAdapter, type ProviderConfig, type ProviderFactory, type UpstreamCall, type UpstreamResult, type UpstreamErrorKind } from './providers/provider.js'
export { ProviderRegistry } from './providers/provider-registry.js'
export type { ClientProtocol, StreamEncoder } from './protocols/client-protocol.js'
export { openAIProtocol } from './protocols/openai/openai-protocol.js'
export { anthropicProtocol } from './protocols/anthropic/anthropic-protocol.js'

// Routing
export { RoutingService, type RoutingServiceDeps, type ProviderView, type DeploymentView, effectiveView } from './routing/routing-service.js'
export { Router, missingFor, worstCaseCost, type Candidate, type RoutePlan, type RouteInput, type Exclusion, type ExclusionReason } from './routing/router.js'
export { RoutingTable, type ResolvedDeployment, type ResolvedProvider } from './routing/routing-table.js'
export { mergePolicies, regionMatches, routingPolicySchema, deploymentInputSchema, ROUTING_DEFAULTS, type EffectivePolicy } from './routing/routing-policy.js'
export { DeploymentHealth, type HealthVerdict } from './routing/deployment-health.js'
export { RateLimiter, type LimitClaim, type RateLimiterOptions } from './routing/rate-limiter.js'
export type { ProviderInput, StoredProvider, StoredPolicy } from './routing/routing-store.js'
export {
  COMPLIANCE_ATTRIBUTES,
  deploymentFrom,
  type ComplianceAttribute,
  type ComplianceRequirement,
  type Deployment,
  type DeploymentInput,
  type ProviderSettings,
  type RateLimits,
  type RoutingPolicy,
  type RetryPolicy,
  type RouteTimeouts,
  type CircuitBreakerPolicy,
  type PolicyScope,
} from './routing/routing-types.js'

// Identity
export { IdentityService, LoggingInvitationSender, type InvitationSender } from './identity/identity-service.js'
export { ApiKeyAuthenticator } from './identity/api-key-authenticator.js'
export { generateApiKey, hashApiKey, API_KEY_PREFIX } from './identity/api-key-secret.js'
export type { RouteAuthz } from './server/fastify-types.js'
// Authorization of plugin management routes: the same `config.authz` rules as core's management API.
export { assertRouteHasAuthz, createAuthzHook } from './management/authz.js'
export { accessOf, actorOf, organizationOf, type RequestAccess } from './management/request-access.js'
export { credentialFrom } from './server/credentials.js'
