import { formatUsd, parseUsd, type PluginHost, ROLES, type Role, TollgateError } from '@tollgate/core'
import { validWebhookUrl } from '../alerts/webhook-delivery.js'
import { isUuid } from '../ledger/account-directory.js'
import { big } from '../ledger/ledger-rows.js'
import { requireBillingAccess } from '../ledger/route-access.js'
import { BUDGET_SCOPES, type Budget, type BudgetScope, type BudgetStore } from './budget-store.js'
import type { LeaseManager } from './lease-pools.js'
import type { OrgBillingSettings, OrgSettingsStore } from './org-settings.js'
import { BUDGET_PERIODS, type BudgetPeriod, periodBounds } from './periods.js'

const USD = '^\\d{1,15}(\\.\\d{1,12})?$'
const orgParams = { type: 'object', required: ['organizationId'], properties: { organizationId: { type: 'string' } } } as const
const budgetParams = { type: 'object', required: ['organizationId', 'budgetId'], properties: { organizationId: { type: 'string' }, budgetId: { type: 'string' } } } as const
const thresholds = { type: 'array', maxItems: 10, items: { type: 'integer', minimum: 1, maximum: 1000 } } as const
const roles = { type: 'array', minItems: 1, items: { type: 'string', enum: [...ROLES] } } as const

function usd(text: string, field: string): bigint {
  try {
    return parseUsd(text, field)
  } catch (err) {
    throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_AMOUNT', (err as Error).message, { field })
  }
}

function settingsJson(s: OrgBillingSettings): Record<string, unknown> {
  return {
    organizationId: s.organizationId,
    timezone: s.timezone,
    requirePrepaidBalance: s.requirePrepaidBalance,
    lowBalanceUsd: formatUsd(s.lowBalanceThreshold),
    budgetAlertThresholds: s.budgetAlertThresholds,
    alertEmails: s.alertEmails,
    slackWebhookUrl: s.slackWebhookUrl ?? null,
    discordWebhookUrl: s.discordWebhookUrl ?? null,
  }
}

/**
 * Budget and billing-settings routes under /billing/organizations/:organizationId: list budgets
 * with the current period's spend per subject, create, change and remove them; read and change
 * the organization's billing settings (timezone, prepaid requirement, alert thresholds and
 * channels). Owners, admins and billing contacts.
 */
export function registerBudgetRoutes(host: PluginHost, deps: { budgets: BudgetStore; settings: OrgSettingsStore; leases: LeaseManager }): void {
  const { budgets, settings, leases } = deps
  const em = () => host.db.orm.em.fork()

  async function budgetJson(b: Budget, tz: string): Promise<Record<string, unknown>> {
    const bounds = periodBounds(b.period, new Date(), tz)
    const rows = await em().execute<{ subject_id: string; spent: string }[]>(
      'select subject_id, spent::text as spent from billing_budget_counter where budget_id = ? and period_start = ? order by subject_id',
      [b.id, bounds.start],
      'all',
    )
    return {
      id: b.id,
      organizationId: b.organizationId,
      scope: b.scope,
      ...(b.subjectId ? { subjectId: b.subjectId } : {}),
      ...(b.appliesToRoles ? { appliesToRoles: b.appliesToRoles } : {}),
      period: b.period,
      limitUsd: formatUsd(b.limit),
      ...(b.alertThresholds ? { alertThresholds: b.alertThresholds } : {}),
      ...(b.name ? { name: b.name } : {}),
      currentPeriod: {
        start: bounds.start.toISOString(),
        end: bounds.end.toISOString(),
        timezone: tz,
        spent: rows.map((r) => ({ subjectId: r.subject_id, spentUsd: formatUsd(big(r.spent)), percent: Number((big(r.spent) * 10_000n) / b.limit) / 100 })),
      },
      createdAt: b.createdAt.toISOString(),
      updatedAt: b.updatedAt.toISOString(),
    }
  }

  async function checkSubject(organizationId: string, scope: BudgetScope, subjectId: string | undefined): Promise<void> {
    const needs = scope === 'member' || scope === 'project' || scope === 'api_key'
    if (!needs) {
      if (subjectId !== undefined) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `subjectId must not be set for a ${scope} budget`, { field: 'subjectId' })
      return
    }
    if (!isUuid(subjectId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `subjectId (the ${scope === 'member' ? "member's user id" : scope === 'project' ? 'project id' : 'API key id'}) is required and must be a UUID`, { field: 'subjectId' })
    const sql = {
      member: 'select 1 from core_membership where organization_id = ? and user_id = ?',
      project: 'select 1 from core_project where organization_id = ? and id = ? and deleted_at is null',
      api_key: 'select 1 from core_api_key where organization_id = ? and id = ? and revoked_at is null',
    }[scope]
    const rows = await em().execute(sql, [organizationId, subjectId], 'all')
    if (rows.length === 0) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `subjectId: no ${scope.replace('_', ' ')} ${subjectId} in this organization`, { field: 'subjectId' })
  }

  host.routes('/billing', async (app) => {
    app.get('/organizations/:organizationId/budgets', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params as { organizationId: string }
      await requireBillingAccess(host, request, organizationId, 'read')
      const s = await settings.get(organizationId)
      const list = await budgets.list(organizationId)
      return { budgets: await Promise.all(list.map((b) => budgetJson(b, s.timezone))) }
    })

    app.post(
      '/organizations/:organizationId/budgets',
      {
        schema: {
          params: orgParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['scope', 'period', 'limitUsd'],
            properties: {
              scope: { type: 'string', enum: [...BUDGET_SCOPES] },
              subjectId: { type: 'string' },
              period: { type: 'string', enum: [...BUDGET_PERIODS] },
              limitUsd: { type: 'string', pattern: USD },
              alertThresholds: thresholds,
              appliesToRoles: roles,
              name: { type: 'string', minLength: 1, maxLength: 200 },
            },
          },
        },
      },
      async (request, reply) => {
        const { organizationId } = request.params as { organizationId: string }
        await requireBillingAccess(host, request, organizationId, 'manage')
        const b = request.body as { scope: BudgetScope; subjectId?: string; period: BudgetPeriod; limitUsd: string; alertThresholds?: number[]; appliesToRoles?: Role[]; name?: string }
        const limit = usd(b.limitUsd, 'limitUsd')
        if (limit <= 0n) throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_AMOUNT', 'limitUsd must be greater than 0', { field: 'limitUsd' })
        if (b.appliesToRoles && b.scope !== 'default_member') throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'appliesToRoles is only for default_member budgets', { field: 'appliesToRoles' })
        await checkSubject(organizationId, b.scope, b.subjectId)
        const created = await budgets.create({ organizationId, scope: b.scope, subjectId: b.subjectId, period: b.period, limit, alertThresholds: b.alertThresholds, appliesToRoles: b.appliesToRoles, name: b.name })
        const s = await settings.get(organizationId)
        return reply.code(201).send(await budgetJson(created, s.timezone))
      },
    )

    app.patch(
      '/organizations/:organizationId/budgets/:budgetId',
      {
        schema: {
          params: budgetParams,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { limitUsd: { type: 'string', pattern: USD }, alertThresholds: { anyOf: [thresholds, { type: 'null' }] }, appliesToRoles: { anyOf: [roles, { type: 'null' }] }, name: { type: ['string', 'null'], maxLength: 200 } },
          },
        },
      },
      async (request) => {
        const { organizationId, budgetId } = request.params as { organizationId: string; budgetId: string }
        await requireBillingAccess(host, request, organizationId, 'manage')
        if (!isUuid(budgetId)) throw new TollgateError('TOLLGATE_ERR_BILLING_BUDGET_NOT_FOUND', `Budget ${budgetId} does not exist in this organization`, { field: 'budgetId' })
        const b = request.body as { limitUsd?: string; alertThresholds?: number[] | null; appliesToRoles?: Role[] | null; name?: string | null }
        const limit = b.limitUsd !== undefined ? usd(b.limitUsd, 'limitUsd') : undefined
        if (limit !== undefined && limit <= 0n) throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_AMOUNT', 'limitUsd must be greater than 0', { field: 'limitUsd' })
        const updated = await budgets.update(organizationId, budgetId, { limit, alertThresholds: b.alertThresholds, appliesToRoles: b.appliesToRoles, name: b.name })
        leases.invalidate(`b:${budgetId}:`)
        const s = await settings.get(organizationId)
        return budgetJson(updated, s.timezone)
      },
    )

    app.delete('/organizations/:organizationId/budgets/:budgetId', { schema: { params: budgetParams } }, async (request, reply) => {
      const { organizationId, budgetId } = request.params as { organizationId: string; budgetId: string }
      await requireBillingAccess(host, request, organizationId, 'manage')
      if (!isUuid(budgetId)) throw new TollgateError('TOLLGATE_ERR_BILLING_BUDGET_NOT_FOUND', `Budget ${budgetId} does not exist in this organization`, { field: 'budgetId' })
      await budgets.remove(organizationId, budgetId)
      return reply.code(204).send()
    })

    app.get('/organizations/:organizationId/settings', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params as { organizationId: string }
      await requireBillingAccess(host, request, organizationId, 'read')
      return settingsJson(await settings.get(organizationId))
    })

    app.patch(
      '/organizations/:organizationId/settings',
      {
        schema: {
          params: orgParams,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              timezone: { type: ['string', 'null'], maxLength: 100 },
              requirePrepaidBalance: { type: ['boolean', 'null'] },
              lowBalanceUsd: { anyOf: [{ type: 'string', pattern: USD }, { type: 'null' }] },
              budgetAlertThresholds: { anyOf: [thresholds, { type: 'null' }] },
              alertEmails: { type: 'array', maxItems: 50, items: { type: 'string', format: 'email' } },
              slackWebhookUrl: { type: ['string', 'null'], maxLength: 2000 },
              discordWebhookUrl: { type: ['string', 'null'], maxLength: 2000 },
            },
          },
        },
      },
      async (request) => {
        const { organizationId } = request.params as { organizationId: string }
        await requireBillingAccess(host, request, organizationId, 'manage')
        const b = request.body as {
          timezone?: string | null
          requirePrepaidBalance?: boolean | null
          lowBalanceUsd?: string | null
          budgetAlertThresholds?: number[] | null
          alertEmails?: string[]
          slackWebhookUrl?: string | null
          discordWebhookUrl?: string | null
        }
        for (const f of ['slackWebhookUrl', 'discordWebhookUrl'] as const) {
          const url = b[f]
          if (typeof url === 'string' && !validWebhookUrl(url)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${f} must be an http(s) URL without credentials`, { field: f })
        }
        const updated = await settings.update(organizationId, {
          timezone: b.timezone,
          requirePrepaidBalance: b.requirePrepaidBalance,
          lowBalanceThreshold: b.lowBalanceUsd === undefined ? undefined : b.lowBalanceUsd === null ? null : usd(b.lowBalanceUsd, 'lowBalanceUsd'),
          budgetAlertThresholds: b.budgetAlertThresholds,
          alertEmails: b.alertEmails,
          slackWebhookUrl: b.slackWebhookUrl,
          discordWebhookUrl: b.discordWebhookUrl,
        })
        return settingsJson(updated)
      },
    )
  })
}
