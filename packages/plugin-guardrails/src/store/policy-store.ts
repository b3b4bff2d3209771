import { randomUUID } from 'node:crypto'
import type { Database, EventBus } from '@tollgate/core'
import { type GuardrailPolicy, mergePolicies } from '../engine/policy.js'
import { RuleSet, rulesFor } from '../engine/rule-set.js'
import type { PolicyScope } from '../events.js'
import type { GuardrailRule } from '../rules/rule.js'
import type { SystemRuleOptions } from '../rules/system-rules.js'

/** A stored policy with its version. */
export interface StoredPolicy {
  policy: GuardrailPolicy
  version: number
  updatedAt: string
}

type Row = { organization_id: string; project_id: string | null; policy: unknown; version: number; updated_at: Date | string }

const keyOf = (organizationId: string, projectId?: string | null) => (projectId ? `${organizationId}/${projectId}` : organizationId)

/** Who changed a policy, for the event's metadata. */
export interface PolicyActor {
  actor?: { type: 'user' | 'api_key' | 'system'; id: string }
  ip?: string
  userAgent?: string
}

/**
 * Organization and project policies: kept in memory (the table is small) so the hot path never
 * touches the database, written through on change, reloaded periodically so several instances
 * converge. Compiled rule sets are cached per (organization, project) and rebuilt only when a
 * policy of theirs changes; requests without overrides share the defaults' rule set.
 */
export class PolicyStore {
  readonly #db: Database
  readonly #events: Pick<EventBus, 'emit'>
  #defaults: GuardrailPolicy = {}
  readonly #options: SystemRuleOptions
  readonly #extensions: () => readonly GuardrailRule[]
  #policies = new Map<string, StoredPolicy>()
  readonly #compiled = new Map<string, { stamp: string; rules: RuleSet }>()
  #defaultRules?: RuleSet

  constructor(deps: { db: Database; events: Pick<EventBus, 'emit'>; options: SystemRuleOptions; extensions: () => readonly GuardrailRule[] }) {
    this.#db = deps.db
    this.#events = deps.events
    this.#options = deps.options
    this.#extensions = deps.extensions
  }

  /** Sets the gateway defaults (at startup, once extension rules are known); compiled rule sets are rebuilt. */
  setDefaults(defaults: GuardrailPolicy): void {
    this.#defaults = defaults
    this.#defaultRules = undefined
    this.#compiled.clear()
  }

  /** The rule set of the gateway defaults alone. */
  get defaultRules(): RuleSet {
    this.#defaultRules ??= new RuleSet(rulesFor(this.#defaults, this.#extensions(), this.#options), this.#defaults)
    return this.#defaultRules
  }

  /** The compiled rules for a request's organization and project. */
  rulesFor(organizationId: string | undefined, projectId: string | undefined): RuleSet {
    if (!organizationId) return this.defaultRules
    const org = this.#policies.get(keyOf(organizationId))
    const project = projectId ? this.#policies.get(keyOf(organizationId, projectId)) : undefined
    if (!org && !project) return this.defaultRules
    const key = keyOf(organizationId, projectId)
    const stamp = `${org?.version ?? 0}.${project?.version ?? 0}`
    const hit = this.#compiled.get(key)
    if (hit && hit.stamp === stamp) return hit.rules
    const effective = mergePolicies([this.#defaults, org?.policy, project?.policy])
    const rules = new RuleSet(rulesFor(effective, this.#extensions(), this.#options), effective)
    this.#compiled.set(key, { stamp, rules })
    return rules
  }

  /** The effective policy of a scope (defaults, then organization, then project). */
  effective(scope: PolicyScope): GuardrailPolicy {
    return mergePolicies([this.#defaults, this.#policies.get(keyOf(scope.organizationId))?.policy, scope.projectId ? this.#policies.get(keyOf(scope.organizationId, scope.projectId))?.policy : undefined])
  }

  /** The stored policy of exactly this scope. */
  get(scope: PolicyScope): StoredPolicy | undefined {
    return this.#policies.get(keyOf(scope.organizationId, scope.projectId))
  }

  /** Loads every policy (startup and periodic refresh). */
  async reload(): Promise<void> {
    const rows = await this.#db.orm.em.fork().execute<Row[]>('select organization_id, project_id, policy, version, updated_at from guardrails_policy', [], 'all')
    const next = new Map<string, StoredPolicy>()
    for (const r of rows) next.set(keyOf(r.organization_id, r.project_id), { policy: parseJson(r.policy), version: r.version, updatedAt: new Date(r.updated_at).toISOString() })
    this.#policies = next
  }

  /** Sets (policy) or resets (undefined) a scope's policy, emitting guardrails.policyChanged in the same transaction. */
  async put(scope: PolicyScope, policy: GuardrailPolicy | undefined, by: PolicyActor): Promise<StoredPolicy | undefined> {
    const key = keyOf(scope.organizationId, scope.projectId)
    const stored = await this.#db.orm.em.fork().transactional(async (em) => {
      const params = [scope.organizationId, scope.projectId ?? null]
      const where = 'organization_id = ? and project_id is not distinct from ?'
      const [before] = await em.execute<Row[]>(`select policy, version from guardrails_policy where ${where} for update`, params, 'all')
      let result: StoredPolicy | undefined
      if (policy) {
        const json = JSON.stringify(policy)
        const rows = before
          ? await em.execute<Row[]>(`update guardrails_policy set policy = ?::jsonb, version = version + 1, updated_at = now() where ${where} returning version, updated_at`, [json, ...params], 'all')
          : await em.execute<Row[]>('insert into guardrails_policy (id, organization_id, project_id, policy) values (?, ?, ?, ?::jsonb) returning version, updated_at', [randomUUID(), ...params, json], 'all')
        result = { policy, version: rows[0].version, updatedAt: new Date(rows[0].updated_at).toISOString() }
      } else if (before) {
        await em.execute(`delete from guardrails_policy where ${where}`, params, 'run')
      }
      await this.#events.emit('guardrails.policyChanged', { ...scope, before: before ? parseJson(before.policy) : undefined, after: policy }, { organizationId: scope.organizationId, ...by, em })
      return result
    })
    if (stored) this.#policies.set(key, stored)
    else this.#policies.delete(key)
    return stored
  }
}

function parseJson(value: unknown): GuardrailPolicy {
  return (typeof value === 'string' ? JSON.parse(value) : value) as GuardrailPolicy
}
