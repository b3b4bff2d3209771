import { parseUsd, type Picodollars } from '../util/money.js'
import { COMPLIANCE_ATTRIBUTES, type ComplianceRequirement, type RateLimits, type RoutingPolicy } from './routing-types.js'

/** Defaults of the fields a policy leaves out. */
export const ROUTING_DEFAULTS = {
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  attemptMs: 60_000,
  totalMs: 120_000,
  failureThreshold: 5,
  cooldownMs: 30_000,
} as const

/** A policy with every level merged and defaults filled in: what the router reads per request. */
export interface EffectivePolicy {
  providerOrder: readonly string[]
  allowedProviders?: ReadonlySet<string>
  blockedProviders: ReadonlySet<string>
  fallback: boolean
  fallbackModels: Readonly<Record<string, readonly string[]>>
  regions?: readonly string[]
  maxCostPerRequest?: Picodollars
  preferOwnKeys: boolean
  loadBalancing: 'weighted' | 'ordered'
  /** maxAttempts undefined: each planned deployment once, no retry rounds. */
  retry: { maxAttempts?: number; initialBackoffMs: number; maxBackoffMs: number }
  timeouts: { attemptMs: number; totalMs: number }
  compliance: readonly ComplianceRequirement[]
  limits: { project?: RateLimits; apiKey?: RateLimits; apiKeys?: Readonly<Record<string, RateLimits>> }
}

/**
 * Merges the global, organization and project policies (most specific wins field by field) and
 * fills defaults. Compliance is cumulative: a project may add requirements, never drop the
 * organization's.
 */
export function mergePolicies(levels: { global?: RoutingPolicy; organization?: RoutingPolicy; project?: RoutingPolicy }): EffectivePolicy {
  const { global: g = {}, organization: o = {}, project: p = {} } = levels
  const pick = <K extends keyof RoutingPolicy>(k: K): RoutingPolicy[K] => p[k] ?? o[k] ?? g[k]
  const compliance: ComplianceRequirement[] = []
  for (const [source, level] of [['global', g], ['organization', o], ['project', p]] as const) {
    const c = level.compliance
    if (c && ((c.require?.length ?? 0) > 0 || c.regions)) compliance.push({ source, require: c.require ?? [], regions: c.regions })
  }
  const retry = { ...g.retry, ...o.retry, ...p.retry }
  const timeouts = { ...g.timeouts, ...o.timeouts, ...p.timeouts }
  const allowed = pick('allowedProviders')
  const maxCost = pick('maxCostPerRequest')
  const attemptMs = timeouts.attemptMs ?? ROUTING_DEFAULTS.attemptMs
  return {
    providerOrder: pick('providerOrder') ?? [],
    allowedProviders: allowed ? new Set(allowed) : undefined,
    blockedProviders: new Set(pick('blockedProviders') ?? []),
    fallback: pick('fallback') ?? true,
    fallbackModels: pick('fallbackModels') ?? {},
    regions: pick('regions'),
    maxCostPerRequest: maxCost !== undefined ? parseUsd(maxCost, 'maxCostPerRequest') : undefined,
    preferOwnKeys: pick('preferOwnKeys') ?? true,
    loadBalancing: pick('loadBalancing') ?? 'weighted',
    retry: {
      maxAttempts: retry.maxAttempts,
      initialBackoffMs: retry.initialBackoffMs ?? ROUTING_DEFAULTS.initialBackoffMs,
      maxBackoffMs: retry.maxBackoffMs ?? ROUTING_DEFAULTS.maxBackoffMs,
    },
    timeouts: { attemptMs, totalMs: Math.max(attemptMs, timeouts.totalMs ?? ROUTING_DEFAULTS.totalMs) },
    compliance,
    limits: {
      project: p.limits?.project ?? o.limits?.project ?? g.limits?.project,
      apiKey: p.limits?.apiKey ?? o.limits?.apiKey ?? g.limits?.apiKey,
      apiKeys: p.limits?.apiKeys ?? o.limits?.apiKeys,
    },
  }
}

/** True when `region` is `pin` or one of its sub-regions (`eu` matches `eu-west-1`). */
export function regionMatches(region: string | undefined, pins: readonly string[]): boolean {
  if (!region) return false
  for (const pin of pins) if (region === pin || region.startsWith(`${pin}-`)) return true
  return false
}

const providerId = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$', maxLength: 64 } as const
const providerList = { type: 'array', items: providerId, maxItems: 100, uniqueItems: true } as const
const regionList = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' }, maxItems: 50, uniqueItems: true } as const

/** JSON Schema of rate limits (requests and tokens per minute). */
export const rateLimitsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { rpm: { type: 'integer', minimum: 1, maximum: 100_000_000 }, tpm: { type: 'integer', minimum: 1, maximum: 100_000_000_000 } },
} as const

/** JSON Schema of a compliance attribute list. */
export const attributesSchema = { type: 'array', items: { type: 'string', enum: [...COMPLIANCE_ATTRIBUTES] }, uniqueItems: true } as const

/** JSON Schema of a RoutingPolicy (config file and management API; errors name the field). */
export const routingPolicySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    providerOrder: providerList,
    allowedProviders: providerList,
    blockedProviders: providerList,
    fallback: { type: 'boolean' },
    fallbackModels: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 10 } },
    regions: regionList,
    maxCostPerRequest: { type: 'string', pattern: '^\\d+(\\.\\d{1,12})?$' },
    preferOwnKeys: { type: 'boolean' },
    loadBalancing: { enum: ['weighted', 'ordered'] },
    retry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxAttempts: { type: 'integer', minimum: 1, maximum: 10 },
        initialBackoffMs: { type: 'integer', minimum: 0, maximum: 60_000 },
        maxBackoffMs: { type: 'integer', minimum: 0, maximum: 300_000 },
      },
    },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: { attemptMs: { type: 'integer', minimum: 10, maximum: 3_600_000 }, totalMs: { type: 'integer', minimum: 10, maximum: 3_600_000 } },
    },
    circuitBreaker: {
      type: 'object',
      additionalProperties: false,
      properties: { failureThreshold: { type: 'integer', minimum: 1, maximum: 1000 }, cooldownMs: { type: 'integer', minimum: 100, maximum: 3_600_000 } },
    },
    compliance: { type: 'object', additionalProperties: false, properties: { require: attributesSchema, regions: regionList } },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        project: rateLimitsSchema,
        apiKey: rateLimitsSchema,
        apiKeys: { type: 'object', maxProperties: 10_000, propertyNames: { format: 'uuid' }, additionalProperties: rateLimitsSchema },
      },
    },
  },
} as const

/** JSON Schema of a deployment's settings (config file and management API). */
export const deploymentInputSchema = {
  type: 'object',
  required: ['provider'],
  additionalProperties: false,
  properties: {
    provider: providerId,
    upstreamModel: { type: 'string', minLength: 1, maxLength: 200 },
    baseUrl: { type: 'string', pattern: '^https?://', maxLength: 2000 },
    region: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' },
    weight: { type: 'integer', minimum: 0, maximum: 1_000_000 },
    priority: { type: 'integer', minimum: -1000, maximum: 1000 },
    attributes: attributesSchema,
    limits: rateLimitsSchema,
    enabled: { type: 'boolean' },
    attemptTimeoutMs: { type: 'integer', minimum: 10, maximum: 3_600_000 },
  },
} as const

/** A deployment id: letters, digits and `._@-`. */
export const deploymentIdSchema = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$', maxLength: 200 } as const
