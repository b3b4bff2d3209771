import type { Logger } from 'pino'
import type { ModelCatalog } from '../catalog/model-catalog.js'
import type { Principal } from '../context/principal.js'
import type { Database } from '../data/database.js'
import { TollgateError } from '../errors/tollgate-error.js'
import type { EventBus } from '../events/event-bus.js'
import { eventMeta } from '../identity/identity-context.js'
import type { Actor } from '../identity/identity-types.js'
import type { ProviderKeyCipher } from '../identity/provider-key-cipher.js'
import type { ProviderConfig } from '../providers/provider.js'
import type { ProviderRegistry } from '../providers/provider-registry.js'
import { formatUsd } from '../util/money.js'
import { DeploymentHealth } from './deployment-health.js'
import { type LimitClaim, RateLimiter, type RateLimiterOptions } from './rate-limiter.js'
import { Router } from './router.js'
import { type EffectivePolicy, mergePolicies } from './routing-policy.js'
import { type ProviderInput, RoutingStore, type RoutingTxEm } from './routing-store.js'
import { type ResolvedDeployment, type ResolvedProvider, RoutingTable } from './routing-table.js'
import type { Deployment, PolicyScope, RoutingPolicy } from './routing-types.js'

/** What the routing service is built from. */
export interface RoutingServiceDeps {
  db: Database
  catalog: ModelCatalog
  registry: ProviderRegistry
  events: EventBus
  cipher: ProviderKeyCipher
  configProviders: ProviderConfig[]
  configPolicy?: RoutingPolicy
  configDeployments?: Deployment[]
  log: Logger
  limiter?: RateLimiterOptions
}

/** A provider as the management API shows it (the key only as a hint). */
export interface ProviderView {
  id: string
  kind: string
  baseUrl?: string
  enabled: boolean
  attributes: string[]
  region?: string
  limits: { rpm?: number; tpm?: number }
  hasKey: boolean
  keyHint?: string
  source: ResolvedProvider['source']
}

/** A deployment as the management API shows it. */
export interface DeploymentView extends Omit<Deployment, 'implicit'> {
  implicit: boolean
  /** Attributes including the provider's. */
  effectiveAttributes: string[]
  effectiveRegion?: string
  health?: { state: 'closed' | 'open' | 'half_open'; consecutiveFailures: number; retryAt?: string }
}

/**
 * Routing of core: the in-memory routing table, the router, the per-deployment health
 * (circuit breakers), the shared rate limiter, and the management operations on providers,
 * deployments and policies (each emitting its domain event inside the write's transaction).
 */
export class RoutingService {
  readonly table: RoutingTable
  readonly router: Router
  readonly health: DeploymentHealth
  readonly limiter: RateLimiter
  readonly #store: RoutingStore
  readonly #d: RoutingServiceDeps

  constructor(deps: RoutingServiceDeps) {
    this.#d = deps
    this.#store = new RoutingStore(deps.db, deps.cipher)
    this.table = new RoutingTable({ db: deps.db, store: this.#store, catalog: deps.catalog, registry: deps.registry, configProviders: deps.configProviders, configPolicy: deps.configPolicy, log: deps.log })
    this.health = new DeploymentHealth(this.table.breakerSettings())
    this.table.onLoaded = (t) => this.health.configure(t.breakerSettings())
    this.router = new Router(this.table, deps.catalog, this.health)
    this.limiter = new RateLimiter(deps.db, deps.limiter)
  }

  /** Seeds the config's deployments and loads the table. */
  async start(refreshMs?: number): Promise<void> {
    const known = (d: Deployment) => this.#d.catalog.get(d.model) !== undefined
    const seeds = this.#d.configDeployments ?? []
    const unknown = seeds.filter((d) => !known(d))
    if (unknown.length > 0) throw new TollgateError('TOLLGATE_ERR_CONFIG_INVALID', `config.routing.deployments: deployment "${unknown[0].id}" serves model "${unknown[0].model}", which is not in the catalog`, { field: 'config.routing.deployments' })
    await this.#store.seedDeployments(seeds)
    await this.table.start(refreshMs)
  }

  stop(): void {
    this.table.stop()
  }

  /** The merged policy for a principal. */
  policyFor(principal: Principal): EffectivePolicy {
    return this.table.policyFor(principal.organizationId, principal.projectId)
  }

  /** The project and API key limits of a request: `tokens` is the estimate reserved before the call. */
  clientClaims(principal: Principal, policy: EffectivePolicy, tokens: number): { claims: LimitClaim[]; codes: Record<string, string> } | undefined {
    const { project, apiKeys } = policy.limits
    const apiKey = (principal.apiKeyId !== undefined ? apiKeys?.[principal.apiKeyId] : undefined) ?? policy.limits.apiKey
    if (!project && !apiKey) return undefined
    const claims: LimitClaim[] = []
    const codes: Record<string, string> = {}
    if (project && principal.projectId) {
      if (project.rpm) claims.push({ key: `proj:${principal.projectId}:r`, limit: project.rpm, amount: 1 })
      if (project.tpm) claims.push({ key: `proj:${principal.projectId}:t`, limit: project.tpm, amount: tokens })
      codes[`proj:${principal.projectId}:r`] = codes[`proj:${principal.projectId}:t`] = 'TOLLGATE_ERR_RATELIMIT_PROJECT'
    }
    if (apiKey && principal.apiKeyId) {
      if (apiKey.rpm) claims.push({ key: `key:${principal.apiKeyId}:r`, limit: apiKey.rpm, amount: 1 })
      if (apiKey.tpm) claims.push({ key: `key:${principal.apiKeyId}:t`, limit: apiKey.tpm, amount: tokens })
      codes[`key:${principal.apiKeyId}:r`] = codes[`key:${principal.apiKeyId}:t`] = 'TOLLGATE_ERR_RATELIMIT_API_KEY'
    }
    return claims.length > 0 ? { claims, codes } : undefined
  }

  /** The provider and deployment limits of an attempt on a deployment (empty when it has none). */
  deploymentClaims(route: ResolvedDeployment, tokens: number): LimitClaim[] {
    const p = route.provider.settings.limits
    const d = route.deployment.limits
    if (!p.rpm && !p.tpm && !d.rpm && !d.tpm) return NO_CLAIMS
    const claims: LimitClaim[] = []
    if (p.rpm) claims.push({ key: route.keys.providerRpm, limit: p.rpm, amount: 1 })
    if (p.tpm) claims.push({ key: route.keys.providerTpm, limit: p.tpm, amount: tokens })
    if (d.rpm) claims.push({ key: route.keys.deploymentRpm, limit: d.rpm, amount: 1 })
    if (d.tpm) claims.push({ key: route.keys.deploymentTpm, limit: d.tpm, amount: tokens })
    return claims
  }

  // Management

  /** Every provider with its settings. */
  listProviders(): ProviderView[] {
    return this.table.providers().map(providerView)
  }

  provider(id: string): ProviderView | undefined {
    const p = this.table.provider(id)
    return p ? providerView(p) : undefined
  }

  /** Sets a provider's stored settings (a provider the config does not define needs a kind). Emits provider.updated. */
  async putProvider(id: string, input: ProviderInput, actor: Actor): Promise<ProviderView> {
    const before = this.table.provider(id)
    if (!before && !input.kind) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `kind is required: provider "${id}" is not in the gateway config`, { field: 'kind' })
    if (!before && !input.baseUrl && input.kind !== 'mock') throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `baseUrl is required: provider "${id}" is not in the gateway config`, { field: 'baseUrl' })
    // Headers are stored in clear: credentials belong in apiKey, which is encrypted.
    for (const name of Object.keys(input.headers ?? {})) {
      if (SECRET_HEADERS.has(name.toLowerCase())) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `headers.${name}: send credentials as apiKey (stored encrypted), not as a header`, { field: `headers.${name}` })
    }
    await this.#store.putProvider(id, input, async (em, stored) => {
      const hint = input.apiKey === null ? undefined : (stored.apiKeyHint ?? before?.keyHint)
      const after: ProviderView = {
        id,
        kind: input.kind ?? before?.config.kind ?? 'openai',
        baseUrl: input.baseUrl ?? before?.config.baseUrl,
        enabled: input.enabled ?? true,
        attributes: input.attributes ?? before?.settings.attributes ?? [],
        region: input.region ?? before?.settings.region,
        limits: input.limits ?? {},
        hasKey: Boolean(stored.apiKeyCiphertext) || (input.apiKey !== null && Boolean(before?.apiKey)),
        keyHint: hint,
        source: before ? (before.source === 'database' ? 'database' : 'config+database') : 'database',
      }
      await this.#emit(em, 'provider.updated', { provider: id, before: before ? { ...providerView(before) } : undefined, after: { ...after } }, actor)
    })
    await this.table.reload()
    return providerView(this.table.provider(id)!)
  }

  /** Removes a provider's stored settings (a provider defined only at run time disappears). Emits provider.updated. */
  async deleteProvider(id: string, actor: Actor): Promise<void> {
    const before = this.table.provider(id)
    const removed = await this.#store.deleteProvider(id, async (em) => {
      await this.#emit(em, 'provider.updated', { provider: id, before: before ? { ...providerView(before) } : undefined, after: undefined }, actor)
    })
    if (!removed) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `Provider "${id}" has no stored settings`)
    await this.table.reload()
  }

  /** The deployments of a model: explicit ones, or its implicit one. */
  listDeployments(model: string): DeploymentView[] {
    const m = this.#d.catalog.get(model)
    if (!m) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `Model "${model}" is not in the catalog`)
    const health = this.health.snapshot()
    return this.table.deploymentsOf(m).map((r) => deploymentView(r, health[r.deployment.id]))
  }

  /** Creates or replaces a deployment. Emits deployment.updated. */
  async putDeployment(d: Deployment, actor: Actor): Promise<DeploymentView> {
    if (!this.#d.catalog.get(d.model)) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `Model "${d.model}" is not in the catalog`)
    if (!this.table.provider(d.provider)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `provider "${d.provider}" is not configured`, { field: 'provider' })
    const existing = this.table.allDeployments().find((r) => r.deployment.id === d.id)
    if (existing && existing.deployment.model !== d.model) throw new TollgateError('TOLLGATE_ERR_REQUEST_CONFLICT', `Deployment "${d.id}" belongs to model "${existing.deployment.model}"`)
    await this.#store.putDeployment(d, async (em) => {
      await this.#emit(em, 'deployment.updated', { model: d.model, deploymentId: d.id, before: existing ? plainDeployment(existing.deployment) : undefined, after: plainDeployment(d) }, actor)
    })
    await this.table.reload()
    const r = this.table.explicitDeployments(d.model).find((x) => x.deployment.id === d.id)!
    return deploymentView(r, undefined)
  }

  /** Removes a deployment. Emits deployment.updated. */
  async deleteDeployment(model: string, id: string, actor: Actor): Promise<void> {
    const existing = this.table.explicitDeployments(model).find((r) => r.deployment.id === id)
    if (!existing) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `Model "${model}" has no deployment "${id}"`)
    await this.#store.deleteDeployment(id, async (em) => {
      await this.#emit(em, 'deployment.updated', { model, deploymentId: id, before: plainDeployment(existing.deployment), after: undefined }, actor)
    })
    await this.table.reload()
  }

  /** The stored policy of a scope and the policy in effect there. */
  policyView(scope: PolicyScope, id: string | undefined, organizationId?: string): { policy: RoutingPolicy; effective: ReturnType<typeof effectiveView> } {
    if (scope === 'global') return { policy: this.table.globalPolicy(), effective: effectiveView(mergePolicies({ global: this.table.globalPolicy() })) }
    const policy = this.table.storedPolicy(scope, id!) ?? {}
    const effective = scope === 'organization' ? this.table.policyFor(id!) : this.table.policyFor(organizationId!, id)
    return { policy, effective: effectiveView(effective) }
  }

  /** Sets the policy of a scope (validated by the route schema). Emits routingPolicy.updated. */
  async putPolicy(scope: PolicyScope, id: string | undefined, organizationId: string | undefined, policy: RoutingPolicy, actor: Actor): Promise<void> {
    checkPolicy(policy, scope, (m) => this.#d.catalog.get(m) !== undefined)
    const before = scope === 'global' ? this.table.globalPolicy() : this.table.storedPolicy(scope, id!)
    await this.#store.putPolicy({ scope, scopeId: id ?? '', organizationId, policy }, async (em) => {
      await this.#emit(em, 'routingPolicy.updated', { scope, organizationId, projectId: scope === 'project' ? id : undefined, before: before as Record<string, unknown> | undefined, after: policy as Record<string, unknown> }, actor, organizationId)
    })
    await this.table.reload()
  }

  /** Removes the stored policy of a scope, if any (idempotent). Emits routingPolicy.updated when there was one. */
  async deletePolicy(scope: PolicyScope, id: string | undefined, organizationId: string | undefined, actor: Actor): Promise<void> {
    const before = scope === 'global' ? this.table.globalPolicy() : this.table.storedPolicy(scope, id!)
    const removed = await this.#store.deletePolicy(scope, id ?? '', async (em) => {
      await this.#emit(em, 'routingPolicy.updated', { scope, organizationId, projectId: scope === 'project' ? id : undefined, before: before as Record<string, unknown> | undefined, after: undefined }, actor, organizationId)
    })
    if (removed) await this.table.reload()
  }

  async #emit(em: RoutingTxEm, name: 'provider.updated' | 'deployment.updated' | 'routingPolicy.updated', payload: Record<string, unknown>, actor: Actor, organizationId?: string): Promise<void> {
    await this.#d.events.emit(name, payload as never, eventMeta(actor, organizationId, em))
  }
}

const NO_CLAIMS: LimitClaim[] = []
const SECRET_HEADERS = new Set(['authorization', 'x-api-key', 'api-key', 'proxy-authorization'])

/** Rejects policies the schema cannot: unknown fallback models, breaker settings below the global level, a total budget below the attempt timeout. */
function checkPolicy(policy: RoutingPolicy, scope: PolicyScope, modelExists: (name: string) => boolean): void {
  if (policy.circuitBreaker && scope !== 'global') throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'circuitBreaker can only be set in the global policy', { field: 'circuitBreaker' })
  for (const [model, list] of Object.entries(policy.fallbackModels ?? {})) {
    for (const m of list) if (!modelExists(m)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `fallbackModels.${model}: model "${m}" is not in the catalog`, { field: `fallbackModels.${model}` })
  }
  const t = policy.timeouts
  if (t?.attemptMs !== undefined && t.totalMs !== undefined && t.totalMs < t.attemptMs) {
    throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'timeouts.totalMs must be at least timeouts.attemptMs', { field: 'timeouts.totalMs' })
  }
}

function providerView(p: ResolvedProvider): ProviderView {
  const s = p.settings
  return {
    id: p.id,
    kind: p.config.kind,
    ...(p.config.baseUrl ? { baseUrl: p.config.baseUrl } : {}),
    enabled: s.enabled,
    attributes: [...s.attributes],
    ...(s.region ? { region: s.region } : {}),
    limits: { ...s.limits },
    hasKey: p.apiKey !== undefined,
    ...(p.keyHint ? { keyHint: p.keyHint } : {}),
    source: p.source,
  }
}

function plainDeployment(d: Deployment): Record<string, unknown> {
  const { implicit: _implicit, ...rest } = d
  return JSON.parse(JSON.stringify(rest))
}

function deploymentView(r: ResolvedDeployment, health: DeploymentView['health']): DeploymentView {
  const { implicit, ...d } = r.deployment
  return { ...d, implicit: implicit === true, effectiveAttributes: [...r.attributes], ...(r.region ? { effectiveRegion: r.region } : {}), ...(health ? { health } : {}) }
}

/** The merged policy as JSON (sets as lists, money as a decimal string). */
export function effectiveView(p: EffectivePolicy) {
  return {
    providerOrder: [...p.providerOrder],
    ...(p.allowedProviders ? { allowedProviders: [...p.allowedProviders] } : {}),
    blockedProviders: [...p.blockedProviders],
    fallback: p.fallback,
    fallbackModels: p.fallbackModels,
    ...(p.regions ? { regions: [...p.regions] } : {}),
    ...(p.maxCostPerRequest !== undefined ? { maxCostPerRequest: formatUsd(p.maxCostPerRequest) } : {}),
    preferOwnKeys: p.preferOwnKeys,
    loadBalancing: p.loadBalancing,
    retry: p.retry,
    timeouts: p.timeouts,
    compliance: p.compliance.map((c) => ({ ...c })),
    limits: p.limits,
  }
}
