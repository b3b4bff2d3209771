import type { CatalogModel, ModelCatalog } from '../catalog/model-catalog.js'
import { TollgateError } from '../errors/tollgate-error.js'
import { costOf, type Picodollars } from '../util/money.js'
import type { DeploymentHealth } from './deployment-health.js'
import { type EffectivePolicy, regionMatches } from './routing-policy.js'
import type { ResolvedDeployment, RoutingTable } from './routing-table.js'

/** A deployment the request may be sent to, in the order it will be tried. */
export interface Candidate {
  route: ResolvedDeployment
  /** The catalog model it serves (the requested one, or a fallback model). */
  model: CatalogModel
  /** The project's own key for the provider, when it has one. */
  ownKey?: string
  /** Its circuit is half-open: this attempt is the probe. */
  probe: boolean
  /** Its circuit is open, but so is every other's (panic routing): tried regardless. */
  panic?: boolean
}

/** Why a deployment was left out. */
export type ExclusionReason = 'disabled' | 'provider_not_allowed' | 'region' | 'compliance' | 'cost_ceiling' | 'circuit_open'

/** A deployment left out, and why. */
export interface Exclusion {
  deployment: string
  provider: string
  model: string
  reason: ExclusionReason
  /** Compliance: what it lacks ("gdpr", "region eu"). */
  missing?: string[]
  /** Circuit open: when it may be tried again (epoch ms). */
  retryAt?: number
}

/** What a routing decision needs to know about the request. */
export interface RouteInput {
  model: CatalogModel
  policy: EffectivePolicy
  /** The project's own provider keys. */
  ownKeys?: ReadonlyMap<string, string>
  /** Estimated input tokens (called only when a cost ceiling applies). */
  inputTokens: () => number
  maxTokens?: number
  now?: number
  random?: () => number
  /** Fill `excluded` with every deployment left out and why (the error path does; requests that route do not pay for it). */
  explain?: boolean
}

/** The outcome: candidates in order, and what was left out. */
export interface RoutePlan {
  candidates: Candidate[]
  excluded: Exclusion[]
}

/**
 * The routing decision, in memory and synchronous: the deployments of the requested model and
 * its fallback models, filtered by state, provider allow/block lists, region pinning, compliance,
 * the cost ceiling and circuit breakers, ordered by model (requested first), own key, provider
 * order and priority, and by weighted random choice among equals. Throws a TollgateError saying
 * why when nothing is left.
 */
export class Router {
  readonly #table: RoutingTable
  readonly #catalog: ModelCatalog
  readonly #health: DeploymentHealth
  /**
   * What the policy alone says about a deployment (state, allow/block lists, compliance, region),
   * computed once per merged policy and deployment: both objects are replaced when anything
   * they depend on changes, so the cache needs no invalidation.
   */
  readonly #static = new WeakMap<EffectivePolicy, WeakMap<ResolvedDeployment, Exclusion['reason'] | null>>()

  constructor(table: RoutingTable, catalog: ModelCatalog, health: DeploymentHealth) {
    this.#table = table
    this.#catalog = catalog
    this.#health = health
  }

  plan(input: RouteInput): RoutePlan {
    const { policy } = input
    const now = input.now ?? Date.now()
    const random = input.random ?? Math.random
    const models: CatalogModel[] = [input.model]
    if (policy.fallback) {
      for (const name of policy.fallbackModels[input.model.name] ?? []) {
        const m = this.#catalog.get(name)
        if (m?.available && m !== input.model) models.push(m)
      }
    }
    const scored: { c: Candidate; rank: number; tiebreak: number }[] = []
    const excluded: Exclusion[] = []
    const open: { route: ResolvedDeployment; model: CatalogModel }[] = []
    let inputTokens: number | undefined
    let nothingServes: boolean | undefined
    for (let mi = 0; mi < models.length; mi++) {
      const model = models[mi]
      let overCeiling = false
      if (policy.maxCostPerRequest !== undefined) {
        inputTokens ??= input.inputTokens()
        overCeiling = worstCaseCost(model, inputTokens, input.maxTokens) > policy.maxCostPerRequest
      }
      let verdicts = this.#static.get(policy)
      if (!verdicts) {
        verdicts = new WeakMap()
        this.#static.set(policy, verdicts)
      }
      for (const route of this.#table.deploymentsOf(model)) {
        let known = verdicts.get(route)
        if (known === undefined) {
          known = this.#exclude(route, policy) ?? null
          verdicts.set(route, known)
        }
        const reason = known ?? (overCeiling ? 'cost_ceiling' : undefined)
        if (reason) {
          // The reasons are only spelled out (with what compliance lacks) when they are shown.
          if (input.explain) excluded.push(reason === 'compliance' ? { ...exclusion(route, model, reason), missing: missingFor(route, policy) } : exclusion(route, model, reason))
          else nothingServes ??= true
          continue
        }
        const verdict = this.#health.check(route.deployment.id, now)
        if (!verdict.ok) {
          if (input.explain) excluded.push({ ...exclusion(route, model, 'circuit_open'), retryAt: verdict.retryAt })
          open.push({ route, model })
          continue
        }
        const ownKey = input.ownKeys?.get(route.provider.id)
        const order = policy.providerOrder.indexOf(route.provider.id)
        // Rank: model first (the one asked for before fallbacks), then deployments that asked to
        // wait (Retry-After) last within it, then own key, provider order, priority.
        const cooling = this.#health.notBefore(route.deployment.id) > now ? 5e8 : 0
        const rank = mi * 1e9 + cooling + (policy.preferOwnKeys && ownKey === undefined ? 1e8 : 0) + (order < 0 ? policy.providerOrder.length : order) * 1e4 + Math.min(Math.max(route.deployment.priority, -4999), 4999) + 5000
        const weight = route.deployment.weight
        // Weighted random order among equals (Efraimidis–Spirakis): higher key first; weight 0 last.
        const tiebreak = policy.loadBalancing === 'ordered' ? -scored.length : weight > 0 ? random() ** (1 / weight) : -1 - scored.length
        scored.push({ c: { route, model, ownKey, probe: verdict.probe }, rank, tiebreak })
      }
    }
    if (scored.length === 0 && open.length > 0) {
      // Panic routing (as Envoy's panic threshold): when every usable deployment's circuit is
      // open, failing fast helps no one — they are tried in order, and a success closes a circuit.
      for (const o of open) scored.push({ c: { route: o.route, model: o.model, ownKey: input.ownKeys?.get(o.route.provider.id), probe: false, panic: true }, rank: scored.length, tiebreak: 0 })
    }
    if (scored.length === 0) {
      // Plan again, explaining, for the error message (the failure path only).
      if (!input.explain && nothingServes) return this.plan({ ...input, explain: true })
      throw noRouteError(input.model, excluded, now)
    }
    scored.sort((a, b) => a.rank - b.rank || b.tiebreak - a.tiebreak)
    const candidates = new Array<Candidate>(scored.length)
    for (let i = 0; i < scored.length; i++) candidates[i] = scored[i].c
    return { candidates, excluded }
  }

  #exclude(route: ResolvedDeployment, policy: EffectivePolicy): ExclusionReason | undefined {
    if (!route.enabled) return 'disabled'
    const provider = route.provider.id
    if (policy.blockedProviders.has(provider) || (policy.allowedProviders && !policy.allowedProviders.has(provider))) return 'provider_not_allowed'
    if (policy.compliance.length > 0 && missingFor(route, policy).length > 0) return 'compliance'
    if (policy.regions && !regionMatches(route.region, policy.regions)) return 'region'
    return undefined
  }
}

function exclusion(route: ResolvedDeployment, model: CatalogModel, reason: ExclusionReason): Exclusion {
  return { deployment: route.deployment.id, provider: route.provider.id, model: model.name, reason }
}

/** The compliance attributes and regions a deployment lacks under a policy (empty: it qualifies). */
export function missingFor(route: ResolvedDeployment, policy: EffectivePolicy): string[] {
  const missing: string[] = []
  for (const req of policy.compliance) {
    for (const a of req.require) if (!route.attributes.has(a) && !missing.includes(a)) missing.push(a)
    if (req.regions && !regionMatches(route.region, req.regions)) {
      const r = `region ${req.regions.join('|')}`
      if (!missing.includes(r)) missing.push(r)
    }
  }
  return missing
}

/**
 * The most a request can cost on a model: its input at the input price plus its output bound at
 * the output price — max_tokens, else the model's output limit, else what fits the context window.
 */
export function worstCaseCost(model: CatalogModel, inputTokens: number, maxTokens: number | undefined): Picodollars {
  const output = maxTokens ?? model.maxOutputTokens ?? (model.contextWindow !== undefined ? Math.max(0, model.contextWindow - inputTokens) : 0)
  return costOf(inputTokens, model.prices.input) + costOf(output, model.prices.output)
}

const REASON_TEXT: Record<ExclusionReason, string> = {
  disabled: 'disabled',
  provider_not_allowed: 'provider not allowed by the routing policy',
  region: 'outside the pinned regions',
  compliance: 'does not meet the compliance policy',
  cost_ceiling: 'over the per-request cost ceiling',
  circuit_open: 'circuit open after repeated failures',
}

/** The error for a request no deployment may serve, naming each deployment and why. */
function noRouteError(model: CatalogModel, excluded: Exclusion[], now: number): TollgateError {
  if (excluded.length === 0) return new TollgateError('TOLLGATE_ERR_MODEL_UNAVAILABLE', `The model "${model.name}" has no configured provider`, { field: 'model' })
  const detail = excluded.map((e) => `${e.deployment} (${e.provider}): ${REASON_TEXT[e.reason]}${e.missing ? `, missing ${e.missing.join(', ')}` : ''}`).join('; ')
  const has = (r: ExclusionReason) => excluded.some((e) => e.reason === r)
  const only = (...rs: ExclusionReason[]) => excluded.every((e) => rs.includes(e.reason))
  if (has('compliance') && only('compliance', 'disabled', 'provider_not_allowed', 'region')) {
    const missing = [...new Set(excluded.flatMap((e) => e.missing ?? []))]
    return new TollgateError('TOLLGATE_ERR_ROUTING_COMPLIANCE', `No deployment of "${model.name}" meets the compliance policy (missing: ${missing.join(', ')}): ${detail}`, { field: 'model' })
  }
  if (has('circuit_open')) {
    const retryAt = Math.min(...excluded.filter((e) => e.retryAt !== undefined).map((e) => e.retryAt!))
    const retryAfter = Math.max(1, Math.ceil((retryAt - now) / 1000))
    return new TollgateError('TOLLGATE_ERR_ROUTING_CIRCUIT_OPEN', `Every usable deployment of "${model.name}" is failing; retry in ${retryAfter} s: ${detail}`, { retryAfter, headers: { 'retry-after': String(retryAfter) } })
  }
  if (has('cost_ceiling')) return new TollgateError('TOLLGATE_ERR_ROUTING_COST_CEILING', `The request could cost more than the per-request cost ceiling on every deployment of "${model.name}"; lower max_tokens: ${detail}`, { field: 'max_tokens' })
  if (only('disabled')) return new TollgateError('TOLLGATE_ERR_MODEL_UNAVAILABLE', `The model "${model.name}" is currently unavailable: ${detail}`, { field: 'model' })
  return new TollgateError('TOLLGATE_ERR_ROUTING_NO_DEPLOYMENT', `The routing policy leaves no deployment for "${model.name}": ${detail}`, { field: 'model' })
}

