import { OrgCache } from './org-cache.js'
import { randomUUID } from 'node:crypto'
import { type Database, type Role, TollgateError, type TxEntityManager } from '@tollgate/core'
import { big } from '../ledger/ledger-rows.js'
import type { BudgetPeriod } from './periods.js'

/** What a budget caps: the whole organization, one member, every member of some roles by default, a project or an API key. */
export type BudgetScope = 'organization' | 'member' | 'default_member' | 'project' | 'api_key'

/** The budget scopes, for schemas. */
export const BUDGET_SCOPES: readonly BudgetScope[] = ['organization', 'member', 'default_member', 'project', 'api_key']

/** A spend cap per period. */
export interface Budget {
  id: string
  organizationId: string
  scope: BudgetScope
  /** The member (user id), project or API key capped; absent for organization and default_member. */
  subjectId?: string
  /** default_member only: the roles it applies to (default ["developer"]); an explicit member budget of the same period wins. */
  appliesToRoles?: Role[]
  period: BudgetPeriod
  /** Picodollars per period. */
  limit: bigint
  /** Alert thresholds, percent (default: the organization's). */
  alertThresholds?: number[]
  name?: string
  createdAt: Date
  updatedAt: Date
}

/** Who a request is for, as far as budgets care. */
export interface BudgetSubject {
  userId?: string
  role?: Role
  projectId?: string
  apiKeyId?: string
}

/** One budget applied to one subject: the budget and whose allowance it is. */
export interface AppliedBudget {
  budget: Budget
  /** The subject whose spend is counted ('-' for organization-wide). */
  subject: string
}

interface Row {
  id: string
  organization_id: string
  scope: string
  subject_id: string | null
  applies_to_roles: unknown
  period: string
  limit_amount: string
  alert_thresholds: unknown
  name: string | null
  created_at: Date | string
  updated_at: Date | string
}

function json<T>(v: unknown): T | undefined {
  if (v === null || v === undefined) return undefined
  return (typeof v === 'string' ? JSON.parse(v) : v) as T
}

function fromRow(r: Row): Budget {
  return {
    id: r.id,
    organizationId: r.organization_id,
    scope: r.scope as BudgetScope,
    ...(r.subject_id ? { subjectId: r.subject_id } : {}),
    ...(json<Role[]>(r.applies_to_roles) ? { appliesToRoles: json<Role[]>(r.applies_to_roles) } : {}),
    period: r.period as BudgetPeriod,
    limit: big(r.limit_amount),
    ...(json<number[]>(r.alert_thresholds) ? { alertThresholds: json<number[]>(r.alert_thresholds) } : {}),
    ...(r.name ? { name: r.name } : {}),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  }
}

const DEFAULT_MEMBER_ROLES: Role[] = ['developer']

/** The budgets that apply to a subject, most specific first. */
export function applicableBudgets(budgets: readonly Budget[], s: BudgetSubject): AppliedBudget[] {
  const out: AppliedBudget[] = []
  for (const b of budgets) {
    switch (b.scope) {
      case 'api_key':
        if (s.apiKeyId && b.subjectId === s.apiKeyId) out.push({ budget: b, subject: s.apiKeyId })
        break
      case 'project':
        if (s.projectId && b.subjectId === s.projectId) out.push({ budget: b, subject: s.projectId })
        break
      case 'member':
        if (s.userId && b.subjectId === s.userId) out.push({ budget: b, subject: s.userId })
        break
      case 'default_member': {
        if (!s.userId || !s.role || !(b.appliesToRoles ?? DEFAULT_MEMBER_ROLES).includes(s.role)) break
        const explicit = budgets.some((o) => o.scope === 'member' && o.subjectId === s.userId && o.period === b.period)
        if (!explicit) out.push({ budget: b, subject: s.userId })
        break
      }
      case 'organization':
        out.push({ budget: b, subject: '-' })
        break
    }
  }
  const rank: Record<BudgetScope, number> = { api_key: 0, project: 1, member: 2, default_member: 2, organization: 3 }
  return out.sort((a, b) => rank[a.budget.scope] - rank[b.budget.scope])
}

/** A human name of a budget for error messages and alerts ("the organization's monthly budget"). */
export function describeBudget(b: Budget): string {
  const per = { day: 'daily', week: 'weekly', month: 'monthly' }[b.period]
  const named = b.name ? ` "${b.name}"` : ''
  switch (b.scope) {
    case 'organization':
      return `the organization's ${per} budget${named}`
    case 'member':
      return `the member's ${per} budget${named}`
    case 'default_member':
      return `the organization's default ${per} limit for ${(b.appliesToRoles ?? DEFAULT_MEMBER_ROLES).join('/')} members${named}`
    case 'project':
      return `the project's ${per} budget${named}`
    case 'api_key':
      return `the API key's ${per} budget${named}`
  }
}

/**
 * Budgets per organization, cached like the settings: served from memory, re-read in the
 * background (every organization in use in one query), reloaded at once after a change on this
 * instance.
 */
export class BudgetStore {
  readonly #db: Database
  readonly #cache: OrgCache<Budget[]>

  constructor(db: Database, options: { ttlMs?: number; onRefreshError?: (err: unknown) => void } = {}) {
    this.#db = db
    this.#cache = new OrgCache(
      async (organizationIds, em) => {
        const rows = await (em ?? this.#db.orm.em.fork()).execute<Row[]>(
          `select * from billing_budget where organization_id in (${organizationIds.map(() => '?').join(',')}) and deleted_at is null order by created_at`,
          [...organizationIds],
          'all',
        )
        const byOrg = new Map<string, Budget[]>(organizationIds.map((id) => [id, []]))
        for (const r of rows) byOrg.get(r.organization_id)?.push(fromRow(r))
        return organizationIds.map((id) => byOrg.get(id) as Budget[])
      },
      options.ttlMs ?? 5_000,
      options.onRefreshError,
    )
  }

  /** Stops the cache's background re-reads. */
  close(): void {
    this.#cache.close()
  }

  /** An organization's budgets from the cache, or undefined before the first load. */
  cached(organizationId: string): Budget[] | undefined {
    return this.#cache.cached(organizationId)
  }

  /** An organization's budgets. */
  async list(organizationId: string, em?: TxEntityManager): Promise<Budget[]> {
    return this.#cache.get(organizationId, em)
  }

  /** One budget of an organization, fresh from the database. */
  async get(organizationId: string, id: string): Promise<Budget> {
    const rows = await this.#db.orm.em.fork().execute<Row[]>('select * from billing_budget where id = ? and organization_id = ? and deleted_at is null', [id, organizationId], 'all')
    if (rows.length === 0) throw new TollgateError('TOLLGATE_ERR_BILLING_BUDGET_NOT_FOUND', `Budget ${id} does not exist in this organization`, { field: 'budgetId' })
    return fromRow(rows[0])
  }

  /** Creates a budget. */
  async create(input: Omit<Budget, 'id' | 'createdAt' | 'updatedAt'>): Promise<Budget> {
    const id = randomUUID()
    try {
      await this.#db.orm.em
        .fork()
        .execute(
          'insert into billing_budget (id, organization_id, scope, subject_id, applies_to_roles, period, limit_amount, alert_thresholds, name) values (?, ?, ?, ?, ?::jsonb, ?, ?::numeric, ?::jsonb, ?)',
          [
            id,
            input.organizationId,
            input.scope,
            input.subjectId ?? null,
            input.appliesToRoles ? JSON.stringify(input.appliesToRoles) : null,
            input.period,
            input.limit.toString(),
            input.alertThresholds ? JSON.stringify(input.alertThresholds) : null,
            input.name ?? null,
          ],
          'run',
        )
    } catch (err) {
      if (/billing_budget_scope_uq|duplicate key/.test(String((err as Error).message))) {
        throw new TollgateError('TOLLGATE_ERR_BILLING_BUDGET_CONFLICT', `A ${input.period} ${input.scope} budget${input.subjectId ? ` for ${input.subjectId}` : ''} already exists`, { field: 'scope' })
      }
      throw err
    }
    await this.#cache.load(input.organizationId)
    return this.get(input.organizationId, id)
  }

  /** Changes a budget's limit, thresholds, roles or name. */
  async update(organizationId: string, id: string, patch: { limit?: bigint; alertThresholds?: number[] | null; appliesToRoles?: Role[] | null; name?: string | null }): Promise<Budget> {
    await this.get(organizationId, id)
    const sets: string[] = []
    const params: unknown[] = []
    if (patch.limit !== undefined) {
      sets.push('limit_amount = ?::numeric')
      params.push(patch.limit.toString())
    }
    if (patch.alertThresholds !== undefined) {
      sets.push('alert_thresholds = ?::jsonb')
      params.push(patch.alertThresholds === null ? null : JSON.stringify(patch.alertThresholds))
    }
    if (patch.appliesToRoles !== undefined) {
      sets.push('applies_to_roles = ?::jsonb')
      params.push(patch.appliesToRoles === null ? null : JSON.stringify(patch.appliesToRoles))
    }
    if (patch.name !== undefined) {
      sets.push('name = ?')
      params.push(patch.name)
    }
    if (sets.length > 0) await this.#db.orm.em.fork().execute(`update billing_budget set ${sets.join(', ')}, updated_at = now() where id = ? and organization_id = ?`, [...params, id, organizationId], 'run')
    await this.#cache.load(organizationId)
    return this.get(organizationId, id)
  }

  /** Removes a budget (its period counters stay as history). */
  async remove(organizationId: string, id: string): Promise<void> {
    await this.get(organizationId, id)
    await this.#db.orm.em.fork().execute('update billing_budget set deleted_at = now() where id = ? and organization_id = ?', [id, organizationId], 'run')
    await this.#cache.load(organizationId)
  }
}
