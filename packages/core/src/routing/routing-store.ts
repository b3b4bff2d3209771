/**
 * Reads and writes of the routing tables (core:0002_routing). Writes run in a transaction and
 * call `onWritten` inside it, so the domain event (and a transactional audit subscriber) commits
 * or rolls back with the change. Secrets are stored encrypted and never leave as plaintext.
 */
import type { Database } from '../data/database.js'
import type { ProviderKeyCipher } from '../identity/provider-key-cipher.js'
import { secretHint } from '../identity/provider-key-cipher.js'
import type { ProviderConfig } from '../providers/provider.js'
import type { ComplianceAttribute, Deployment, PolicyScope, RateLimits, RoutingPolicy } from './routing-types.js'

/** The EntityManager of a routing write's transaction. */
export type RoutingTxEm = ReturnType<Database['orm']['em']['fork']>

/** A stored provider row: overrides of a configured provider, or (with `kind`) a provider defined at run time. */
export interface StoredProvider {
  id: string
  kind?: ProviderConfig['kind']
  baseUrl?: string
  headers?: Record<string, string>
  timeouts?: ProviderConfig['timeouts']
  enabled?: boolean
  /** Encrypted key (never returned by the API). */
  apiKeyCiphertext?: string
  apiKeyHint?: string
  attributes?: ComplianceAttribute[]
  region?: string
  limits?: RateLimits
}

/** What the management API may set on a provider. `apiKey`: absent keeps the stored key, null removes it. */
export interface ProviderInput {
  kind?: ProviderConfig['kind']
  baseUrl?: string
  headers?: Record<string, string>
  timeouts?: ProviderConfig['timeouts']
  enabled?: boolean
  apiKey?: string | null
  attributes?: ComplianceAttribute[]
  region?: string
  limits?: RateLimits
}

/** A stored routing policy and where it applies. */
export interface StoredPolicy {
  scope: PolicyScope
  scopeId: string
  organizationId?: string
  policy: RoutingPolicy
}

interface ProviderRow {
  id: string
  kind: string | null
  base_url: string | null
  headers: unknown
  timeouts: unknown
  enabled: boolean | null
  api_key_ciphertext: string | null
  api_key_hint: string | null
  attributes: unknown
  region: string | null
  rpm: number | null
  tpm: string | number | null
}

interface DeploymentRow {
  id: string
  model: string
  provider: string
  upstream_model: string
  base_url: string | null
  region: string | null
  weight: number
  priority: number
  attributes: unknown
  rpm: number | null
  tpm: string | number | null
  attempt_timeout_ms: number | null
  enabled: boolean
}

interface PolicyRow {
  scope: PolicyScope
  scope_id: string
  organization_id: string | null
  policy: unknown
}

/** PGlite returns jsonb parsed, node-postgres too; a string is parsed for safety. */
function json<T>(v: unknown): T | undefined {
  if (v === null || v === undefined) return undefined
  return (typeof v === 'string' ? JSON.parse(v) : v) as T
}

function limitsOf(rpm: number | null, tpm: string | number | null): RateLimits {
  return { ...(rpm !== null ? { rpm } : {}), ...(tpm !== null ? { tpm: Number(tpm) } : {}) }
}

function providerFromRow(r: ProviderRow): StoredProvider {
  return {
    id: r.id,
    kind: (r.kind ?? undefined) as StoredProvider['kind'],
    baseUrl: r.base_url ?? undefined,
    headers: json(r.headers),
    timeouts: json(r.timeouts),
    enabled: r.enabled ?? undefined,
    apiKeyCiphertext: r.api_key_ciphertext ?? undefined,
    apiKeyHint: r.api_key_hint ?? undefined,
    attributes: json(r.attributes),
    region: r.region ?? undefined,
    limits: r.rpm !== null || r.tpm !== null ? limitsOf(r.rpm, r.tpm) : undefined,
  }
}

function deploymentFromRow(r: DeploymentRow): Deployment {
  return {
    id: r.id,
    model: r.model,
    provider: r.provider,
    upstreamModel: r.upstream_model,
    baseUrl: r.base_url ?? undefined,
    region: r.region ?? undefined,
    weight: r.weight,
    priority: r.priority,
    attributes: json<ComplianceAttribute[]>(r.attributes) ?? [],
    limits: limitsOf(r.rpm, r.tpm),
    enabled: r.enabled,
    attemptTimeoutMs: r.attempt_timeout_ms ?? undefined,
  }
}

/** The associated data of a gateway-level provider key (binds the ciphertext to its provider). */
export function gatewayProviderKeyAad(providerId: string): string {
  return `tollgate:gateway-provider-key:${providerId}`
}

/** Everything routing reads at (re)load. */
export async function loadRoutingRows(db: Database): Promise<{ providers: StoredProvider[]; deployments: Deployment[]; policies: StoredPolicy[] }> {
  const em = db.orm.em.fork()
  const [providers, deployments, policies] = await Promise.all([
    em.execute<ProviderRow[]>('select * from core_provider order by id', [], 'all'),
    em.fork().execute<DeploymentRow[]>('select * from core_deployment order by model, priority, id', [], 'all'),
    em.fork().execute<PolicyRow[]>('select scope, scope_id, organization_id, policy from core_routing_policy', [], 'all'),
  ])
  return {
    providers: providers.map(providerFromRow),
    deployments: deployments.map(deploymentFromRow),
    policies: policies.map((r) => ({ scope: r.scope, scopeId: r.scope_id, organizationId: r.organization_id ?? undefined, policy: json<RoutingPolicy>(r.policy) ?? {} })),
  }
}

/** Writes of the routing tables. */
export class RoutingStore {
  readonly #db: Database
  readonly #cipher: ProviderKeyCipher

  constructor(db: Database, cipher: ProviderKeyCipher) {
    this.#db = db
    this.#cipher = cipher
  }

  /** Decrypts a stored gateway-level provider key. */
  decryptKey(p: StoredProvider): string | undefined {
    return p.apiKeyCiphertext ? this.#cipher.decrypt(p.apiKeyCiphertext, gatewayProviderKeyAad(p.id)) : undefined
  }

  /** Replaces a provider's stored settings (absent fields inherit the config); returns the stored row. */
  async putProvider(id: string, input: ProviderInput, onWritten: (em: RoutingTxEm, stored: StoredProvider) => Promise<void>): Promise<StoredProvider> {
    return this.#db.orm.em.fork().transactional(async (em) => {
      const [existing] = await em.execute<ProviderRow[]>('select * from core_provider where id = ? for update', [id], 'all')
      let ciphertext = existing?.api_key_ciphertext ?? null
      let hint = existing?.api_key_hint ?? null
      if (input.apiKey === null) {
        ciphertext = null
        hint = null
      } else if (input.apiKey !== undefined) {
        ciphertext = this.#cipher.encrypt(input.apiKey, gatewayProviderKeyAad(id))
        hint = secretHint(input.apiKey)
      }
      const params = [
        id,
        input.kind ?? null,
        input.baseUrl ?? null,
        input.headers ? JSON.stringify(input.headers) : null,
        input.timeouts ? JSON.stringify(input.timeouts) : null,
        input.enabled ?? null,
        ciphertext,
        hint,
        input.attributes ? JSON.stringify(input.attributes) : null,
        input.region ?? null,
        input.limits?.rpm ?? null,
        input.limits?.tpm ?? null,
      ]
      const [row] = await em.execute<ProviderRow[]>(
        `insert into core_provider (id, kind, base_url, headers, timeouts, enabled, api_key_ciphertext, api_key_hint, attributes, region, rpm, tpm)
         values (?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?::jsonb, ?, ?, ?)
         on conflict (id) do update set kind = excluded.kind, base_url = excluded.base_url, headers = excluded.headers, timeouts = excluded.timeouts,
           enabled = excluded.enabled, api_key_ciphertext = excluded.api_key_ciphertext, api_key_hint = excluded.api_key_hint,
           attributes = excluded.attributes, region = excluded.region, rpm = excluded.rpm, tpm = excluded.tpm, updated_at = now()
         returning *`,
        params,
        'all',
      )
      const stored = providerFromRow(row)
      await onWritten(em, stored)
      return stored
    })
  }

  /** Removes a provider's stored settings (a configured provider goes back to its config). */
  async deleteProvider(id: string, onWritten: (em: RoutingTxEm) => Promise<void>): Promise<boolean> {
    return this.#db.orm.em.fork().transactional(async (em) => {
      const rows = await em.execute<{ id: string }[]>('delete from core_provider where id = ? returning id', [id], 'all')
      if (rows.length > 0) await onWritten(em)
      return rows.length > 0
    })
  }

  /** Creates or replaces a deployment. */
  async putDeployment(d: Deployment, onWritten: (em: RoutingTxEm) => Promise<void>): Promise<void> {
    await this.#db.orm.em.fork().transactional(async (em) => {
      await em.execute(
        `insert into core_deployment (id, model, provider, upstream_model, base_url, region, weight, priority, attributes, rpm, tpm, attempt_timeout_ms, enabled)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?)
         on conflict (id) do update set model = excluded.model, provider = excluded.provider, upstream_model = excluded.upstream_model,
           base_url = excluded.base_url, region = excluded.region, weight = excluded.weight, priority = excluded.priority,
           attributes = excluded.attributes, rpm = excluded.rpm, tpm = excluded.tpm, attempt_timeout_ms = excluded.attempt_timeout_ms,
           enabled = excluded.enabled, updated_at = now()`,
        deploymentParams(d),
        'run',
      )
      await onWritten(em)
    })
  }

  /** Removes a deployment. */
  async deleteDeployment(id: string, onWritten: (em: RoutingTxEm) => Promise<void>): Promise<boolean> {
    return this.#db.orm.em.fork().transactional(async (em) => {
      const rows = await em.execute<{ id: string }[]>('delete from core_deployment where id = ? returning id', [id], 'all')
      if (rows.length > 0) await onWritten(em)
      return rows.length > 0
    })
  }

  /** Inserts the config's deployments the database does not have yet (the management API edits them after). */
  async seedDeployments(list: Deployment[]): Promise<void> {
    if (list.length === 0) return
    const em = this.#db.orm.em.fork()
    for (const d of list) {
      await em.execute(
        `insert into core_deployment (id, model, provider, upstream_model, base_url, region, weight, priority, attributes, rpm, tpm, attempt_timeout_ms, enabled)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?) on conflict (id) do nothing`,
        deploymentParams(d),
        'run',
      )
    }
  }

  /** Sets the policy of a scope. */
  async putPolicy(p: StoredPolicy, onWritten: (em: RoutingTxEm) => Promise<void>): Promise<void> {
    await this.#db.orm.em.fork().transactional(async (em) => {
      await em.execute(
        `insert into core_routing_policy (scope, scope_id, organization_id, policy) values (?, ?, ?, ?::jsonb)
         on conflict (scope, scope_id) do update set policy = excluded.policy, organization_id = excluded.organization_id, updated_at = now()`,
        [p.scope, p.scopeId, p.organizationId ?? null, JSON.stringify(p.policy)],
        'run',
      )
      await onWritten(em)
    })
  }

  /** Removes the policy of a scope (it inherits again). */
  async deletePolicy(scope: PolicyScope, scopeId: string, onWritten: (em: RoutingTxEm) => Promise<void>): Promise<boolean> {
    return this.#db.orm.em.fork().transactional(async (em) => {
      const rows = await em.execute<{ scope: string }[]>('delete from core_routing_policy where scope = ? and scope_id = ? returning scope', [scope, scopeId], 'all')
      if (rows.length > 0) await onWritten(em)
      return rows.length > 0
    })
  }
}

function deploymentParams(d: Deployment): unknown[] {
  return [
    d.id,
    d.model,
    d.provider,
    d.upstreamModel,
    d.baseUrl ?? null,
    d.region ?? null,
    d.weight,
    d.priority,
    JSON.stringify(d.attributes),
    d.limits.rpm ?? null,
    d.limits.tpm ?? null,
    d.attemptTimeoutMs ?? null,
    d.enabled,
  ]
}
