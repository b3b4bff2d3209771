/**
 * The shapes of routing: deployments of a model, provider settings, compliance attributes, rate
 * limits and the routing policy (global, per organization, per project).
 */

/** Compliance attributes a provider or deployment can carry, and a policy can require. */
export const COMPLIANCE_ATTRIBUTES = ['soc2', 'iso27001', 'gdpr', 'noTraining', 'noPromptLogging'] as const

/** A compliance attribute: SOC 2, ISO 27001, GDPR, no training on prompts, no prompt logging. */
export type ComplianceAttribute = (typeof COMPLIANCE_ATTRIBUTES)[number]

/** Requests and tokens per minute; an absent value means no limit. */
export interface RateLimits {
  rpm?: number
  tpm?: number
}

/** One place a model is served: a provider, the model name there, and how it is weighted and limited. */
export interface Deployment {
  /** Stable id (`<model>@default` for a model's implicit deployment). */
  id: string
  /** Catalog model it serves. */
  model: string
  /** Provider id. */
  provider: string
  /** Model name sent upstream. */
  upstreamModel: string
  /** Overrides the provider's base URL (a regional endpoint, for example). */
  baseUrl?: string
  /** Region (`eu-west-1`, `us`); falls back to the provider's. */
  region?: string
  /** Relative share of traffic among deployments of the same rank (default 1). */
  weight: number
  /** Lower is preferred before weights apply (default 0). */
  priority: number
  /** Compliance attributes of this deployment, added to its provider's. */
  attributes: ComplianceAttribute[]
  limits: RateLimits
  enabled: boolean
  /** Per-attempt timeout override, ms. */
  attemptTimeoutMs?: number
  /** True for a model's implicit deployment (no deployment configured). */
  implicit?: boolean
}

/** What can be said about a provider beyond its adapter config: state, compliance, limits. */
export interface ProviderSettings {
  enabled: boolean
  attributes: ComplianceAttribute[]
  region?: string
  limits: RateLimits
}

/** A set of compliance requirements (one per level that sets any). */
export interface ComplianceRequirement {
  /** Where it was set. */
  source: 'global' | 'organization' | 'project'
  /** Attributes every deployment used must carry. */
  require: ComplianceAttribute[]
  /** Regions a deployment must be in (a region matches itself and its sub-regions: `eu` matches `eu-west-1`). */
  regions?: string[]
}

/** Retry settings of a route. */
export interface RetryPolicy {
  /**
   * Upstream attempts per request, all deployments together (first attempt included). Default:
   * each planned deployment once; set it higher to retry deployments again after a backoff.
   */
  maxAttempts?: number
  /** First backoff before a deployment is tried again, ms (doubles each round, with jitter). */
  initialBackoffMs?: number
  maxBackoffMs?: number
}

/** Time limits of a route. */
export interface RouteTimeouts {
  /** One attempt, until the first byte of the answer (the whole answer when not streamed), ms. */
  attemptMs?: number
  /** Every attempt, backoff and Retry-After wait together, ms: retries never make the client wait longer. */
  totalMs?: number
}

/** Circuit breaker settings (global only). */
export interface CircuitBreakerPolicy {
  /** Consecutive failures that open a deployment's circuit. */
  failureThreshold?: number
  /** How long an open circuit stays open before one probe request, ms. */
  cooldownMs?: number
}

/**
 * A routing policy as stored or configured. Set globally (config, or the platform administrators
 * through the API), per organization and per project; a more specific level replaces a less
 * specific one field by field, except compliance, where every level's requirements apply.
 */
export interface RoutingPolicy {
  /** Providers in order of preference; deployments of unlisted providers come after. */
  providerOrder?: string[]
  /** Only these providers may serve (absent: all). */
  allowedProviders?: string[]
  /** These providers never serve. */
  blockedProviders?: string[]
  /** Try the next deployment (and fallback models) on connection errors, timeouts, 429 and 5xx (default true). */
  fallback?: boolean
  /** Models to fall back to, per requested model, in order. */
  fallbackModels?: Record<string, string[]>
  /** Region pinning: only deployments in these regions serve. */
  regions?: string[]
  /** Largest worst-case cost of one request, USD as a decimal string ("0.05"). */
  maxCostPerRequest?: string
  /** Deployments of providers the project has its own key for go first (default true). */
  preferOwnKeys?: boolean
  /** weighted: random by weight among equals (default); ordered: always the first. */
  loadBalancing?: 'weighted' | 'ordered'
  retry?: RetryPolicy
  timeouts?: RouteTimeouts
  circuitBreaker?: CircuitBreakerPolicy
  compliance?: { require?: ComplianceAttribute[]; regions?: string[] }
  /** Rate limits of the project as a whole, of each of its API keys, and of particular keys (by key id, replacing `apiKey`). */
  limits?: { project?: RateLimits; apiKey?: RateLimits; apiKeys?: Record<string, RateLimits> }
}

/** Where a stored policy applies. */
export type PolicyScope = 'global' | 'organization' | 'project'

/** A deployment as written in the config or sent to the management API (defaults filled by `deploymentFrom`). */
export interface DeploymentInput {
  provider: string
  /** Default: the catalog model's upstream model. */
  upstreamModel?: string
  baseUrl?: string
  region?: string
  weight?: number
  priority?: number
  attributes?: ComplianceAttribute[]
  limits?: RateLimits
  enabled?: boolean
  attemptTimeoutMs?: number
}

/** A deployment with its defaults filled in. */
export function deploymentFrom(id: string, model: string, input: DeploymentInput, defaultUpstreamModel: string): Deployment {
  return {
    id,
    model,
    provider: input.provider,
    upstreamModel: input.upstreamModel ?? defaultUpstreamModel,
    ...(input.baseUrl ? { baseUrl: input.baseUrl } : {}),
    ...(input.region ? { region: input.region } : {}),
    weight: input.weight ?? 1,
    priority: input.priority ?? 0,
    attributes: input.attributes ?? [],
    limits: input.limits ?? {},
    enabled: input.enabled ?? true,
    ...(input.attemptTimeoutMs !== undefined ? { attemptTimeoutMs: input.attemptTimeoutMs } : {}),
  }
}
