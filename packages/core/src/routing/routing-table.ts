import type { Logger } from 'pino'
import type { CatalogModel, ModelCatalog } from '../catalog/model-catalog.js'
import type { Database } from '../data/database.js'
import type { ProviderAdapter, ProviderConfig } from '../providers/provider.js'
import type { ProviderRegistry } from '../providers/provider-registry.js'
import { type EffectivePolicy, mergePolicies, ROUTING_DEFAULTS } from './routing-policy.js'
import { loadRoutingRows, type RoutingStore, type StoredPolicy, type StoredProvider } from './routing-store.js'
import type { ComplianceAttribute, Deployment, ProviderSettings, RoutingPolicy } from './routing-types.js'

/** A provider as routing uses it: config and stored settings merged, adapter built. */
export interface ResolvedProvider {
  id: string
  /** Connection settings in effect (no key). */
  config: ProviderConfig
  /** The gateway's key in effect (stored key over config key). */
  apiKey?: string
  /** Hint of the stored key, when one is stored. */
  keyHint?: string
  settings: ProviderSettings
  /** Where it is defined: the config, the database, or the config with stored overrides. */
  source: 'config' | 'database' | 'config+database'
  stored?: StoredProvider
}

/** A deployment ready to be called: its provider, adapter, compliance attributes and region resolved. */
export interface ResolvedDeployment {
  deployment: Deployment
  provider: ResolvedProvider
  adapter: ProviderAdapter
  attributes: ReadonlySet<ComplianceAttribute>
  region?: string
  /** The deployment and its provider are both enabled. */
  enabled: boolean
  /** Rate-limit counter keys, made once. */
  keys: { providerRpm: string; providerTpm: string; deploymentRpm: string; deploymentTpm: string }
}

/** What the table is built from. */
export interface RoutingTableDeps {
  db: Database
  store: RoutingStore
  catalog: ModelCatalog
  registry: ProviderRegistry
  /** Providers of the gateway config. */
  configProviders: ProviderConfig[]
  /** The global policy of the gateway config (a stored global policy replaces it field by field). */
  configPolicy?: RoutingPolicy
  log: Logger
}

/**
 * The routing state in memory: providers, deployments per model and policies. Loaded at startup,
 * after every change made on this instance, and every `refreshMs` (changes made elsewhere), so a
 * request never waits for the database to be routed.
 */
export class RoutingTable {
  readonly #d: RoutingTableDeps
  #providers = new Map<string, ResolvedProvider>()
  #deployments = new Map<string, ResolvedDeployment[]>()
  #implicit = new Map<string, { model: CatalogModel; list: ResolvedDeployment[] }>()
  #global: RoutingPolicy = {}
  #organizations = new Map<string, RoutingPolicy>()
  #projects = new Map<string, StoredPolicy>()
  #effective = new Map<string, EffectivePolicy>()
  #timer: NodeJS.Timeout | undefined
  /** True when any provider or deployment has a tokens-per-minute limit (requests then estimate their tokens). */
  hasTokenLimits = false
  /** Called after each load (breaker settings follow the global policy). */
  onLoaded?: (table: RoutingTable) => void

  constructor(deps: RoutingTableDeps) {
    this.#d = deps
  }

  /** Loads the tables and starts the periodic refresh. */
  async start(refreshMs = 10_000): Promise<void> {
    await this.reload()
    this.#timer = setInterval(() => void this.reload().catch((err) => this.#d.log.error({ err }, 'routing reload failed')), refreshMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
  }

  /** Reads providers, deployments and policies from the database and swaps them in at once. */
  async reload(): Promise<void> {
    const rows = await loadRoutingRows(this.#d.db)
    const stored = new Map(rows.providers.map((p) => [p.id, p]))
    const providers = new Map<string, ResolvedProvider>()
    const configured = this.#d.configProviders.some((c) => c.id === 'mock') ? this.#d.configProviders : [...this.#d.configProviders, { id: 'mock', kind: 'mock' as const }]
    for (const c of configured) providers.set(c.id, this.#resolveProvider(c, stored.get(c.id)))
    for (const s of rows.providers) {
      if (providers.has(s.id)) continue
      if (!s.kind) {
        this.#d.log.warn({ provider: s.id }, 'stored provider settings for a provider that is not configured and has no kind: ignored')
        continue
      }
      providers.set(s.id, this.#resolveProvider(undefined, s))
    }
    const deployments = new Map<string, ResolvedDeployment[]>()
    for (const dep of rows.deployments) {
      const provider = providers.get(dep.provider)
      if (!provider) {
        this.#d.log.warn({ deployment: dep.id, provider: dep.provider }, 'deployment of an unknown provider: ignored')
        continue
      }
      const list = deployments.get(dep.model) ?? []
      list.push(this.#resolveDeployment(dep, provider))
      deployments.set(dep.model, list)
    }
    const organizations = new Map<string, RoutingPolicy>()
    const projects = new Map<string, StoredPolicy>()
    let global: RoutingPolicy = {}
    for (const p of rows.policies) {
      if (p.scope === 'global') global = p.policy
      else if (p.scope === 'organization') organizations.set(p.scopeId, p.policy)
      else projects.set(p.scopeId, p)
    }
    this.#providers = providers
    this.#deployments = deployments
    this.#implicit = new Map()
    this.#global = { ...this.#d.configPolicy, ...global }
    this.#organizations = organizations
    this.#projects = projects
    this.#effective = new Map()
    this.hasTokenLimits = [...providers.values()].some((p) => p.settings.limits.tpm !== undefined) || rows.deployments.some((d) => d.limits.tpm !== undefined)
    this.onLoaded?.(this)
  }

  /** Every provider, configured ones first. */
  providers(): ResolvedProvider[] {
    return [...this.#providers.values()]
  }

  provider(id: string): ResolvedProvider | undefined {
    return this.#providers.get(id)
  }

  /** The explicit deployments of a model (none: it is served by its implicit one). */
  explicitDeployments(model: string): ResolvedDeployment[] {
    return this.#deployments.get(model) ?? []
  }

  /** Every explicit deployment. */
  allDeployments(): ResolvedDeployment[] {
    return [...this.#deployments.values()].flat()
  }

  /** The deployments serving a model: its explicit ones, or the implicit one from its catalog provider and upstream model. */
  deploymentsOf(model: CatalogModel): readonly ResolvedDeployment[] {
    const explicit = this.#deployments.get(model.name)
    if (explicit) return explicit
    const cached = this.#implicit.get(model.name)
    if (cached && cached.model === model) return cached.list
    const provider = this.#providers.get(model.provider)
    const list = provider
      ? [
          this.#resolveDeployment(
            { id: `${model.name}@default`, model: model.name, provider: model.provider, upstreamModel: model.upstreamModel, weight: 1, priority: 0, attributes: [], limits: {}, enabled: true, implicit: true },
            provider,
          ),
        ]
      : []
    this.#implicit.set(model.name, { model, list })
    return list
  }

  /** The global policy in effect (config with stored overrides). */
  globalPolicy(): RoutingPolicy {
    return this.#global
  }

  /** The stored policy of an organization or project. */
  storedPolicy(scope: 'organization' | 'project', id: string): RoutingPolicy | undefined {
    return scope === 'organization' ? this.#organizations.get(id) : this.#projects.get(id)?.policy
  }

  /** The merged policy for a request of this organization and project (cached until the next load). */
  policyFor(organizationId: string, projectId?: string): EffectivePolicy {
    const key = projectId ?? organizationId
    let p = this.#effective.get(key)
    if (!p) {
      p = mergePolicies({ global: this.#global, organization: this.#organizations.get(organizationId), project: projectId ? this.#projects.get(projectId)?.policy : undefined })
      if (this.#effective.size > 100_000) this.#effective.clear()
      this.#effective.set(key, p)
    }
    return p
  }

  /** Circuit breaker settings of the global policy. */
  breakerSettings(): { failureThreshold: number; cooldownMs: number } {
    const b = this.#global.circuitBreaker
    return { failureThreshold: b?.failureThreshold ?? ROUTING_DEFAULTS.failureThreshold, cooldownMs: b?.cooldownMs ?? ROUTING_DEFAULTS.cooldownMs }
  }

  #resolveProvider(config: ProviderConfig | undefined, s: StoredProvider | undefined): ResolvedProvider {
    const base: ProviderConfig = config ?? { id: s!.id, kind: s!.kind! }
    const effective: ProviderConfig = {
      ...base,
      kind: s?.kind ?? base.kind,
      baseUrl: s?.baseUrl ?? base.baseUrl,
      headers: s?.headers ?? base.headers,
      timeouts: s?.timeouts ?? base.timeouts,
    }
    let apiKey = base.apiKey
    if (s?.apiKeyCiphertext) {
      try {
        apiKey = this.#d.store.decryptKey(s)
      } catch (err) {
        // Fail closed: a key that does not decrypt must not silently become the config's key.
        this.#d.log.error({ err, provider: base.id }, 'the stored key of a provider does not decrypt (wrong encryption key?): provider disabled')
        return { id: base.id, config: effective, settings: { enabled: false, attributes: [], limits: {} }, source: config ? 'config+database' : 'database', stored: s }
      }
    }
    const settings: ProviderSettings = {
      enabled: s?.enabled ?? base.enabled ?? true,
      attributes: s?.attributes ?? base.attributes ?? [],
      region: s?.region ?? base.region,
      limits: s?.limits ?? base.limits ?? {},
    }
    return { id: base.id, config: { ...effective, apiKey: undefined }, apiKey, keyHint: s?.apiKeyHint, settings, source: config ? (s ? 'config+database' : 'config') : 'database', stored: s }
  }

  #resolveDeployment(dep: Deployment, provider: ResolvedProvider): ResolvedDeployment {
    const config = dep.baseUrl ? { ...provider.config, baseUrl: dep.baseUrl } : provider.config
    let adapter: ProviderAdapter
    try {
      adapter = this.#d.registry.adapterFor(config)
    } catch (err) {
      this.#d.log.error({ err, deployment: dep.id }, 'deployment adapter could not be built: deployment disabled')
      adapter = this.#d.registry.get('mock')!
      dep = { ...dep, enabled: false }
    }
    return {
      deployment: dep,
      provider,
      adapter,
      attributes: new Set([...provider.settings.attributes, ...dep.attributes]),
      region: dep.region ?? provider.settings.region,
      enabled: dep.enabled && provider.settings.enabled,
      keys: { providerRpm: `p:${provider.id}:r`, providerTpm: `p:${provider.id}:t`, deploymentRpm: `d:${dep.id}:r`, deploymentTpm: `d:${dep.id}:t` },
    }
  }
}
