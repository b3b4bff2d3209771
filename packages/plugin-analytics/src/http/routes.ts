import type { IdentityService } from '@tollgate/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { EntitlementPolicy } from '../config.js'
import { invalidQuery, notFound } from '../errors.js'
import { type AnalyticsService, GROUP_BYS, type GroupBy } from '../query/analytics-service.js'
import { enumParam, parseTimeRange, type Query, rejectUnknown, spanDays, stringParam, type TimeRange, uuidParam } from '../query/params.js'
import { accessTo, assertMayReadMember, type CallerAccess, enforcePlan, scopeFor } from './access.js'
import { sendView, TOTAL_COLUMNS } from './export.js'

/** What the routes need. */
export interface RouteDeps {
  service: AnalyticsService
  identity: IdentityService
  policy: EntitlementPolicy
  entitled: (organizationId: string) => Promise<boolean>
  now?: () => number
}

const RANGE = ['from', 'to', 'timezone', 'window', 'granularity', 'format']
const FORMATS = ['json', 'csv'] as const
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function fileStamp(range: TimeRange): string {
  return `${new Date(range.from).toISOString().slice(0, 10)}_${new Date(range.to).toISOString().slice(0, 10)}`
}

/** Resolves the organization, the caller's access and an optional project of that organization. */
async function resolve(request: FastifyRequest, deps: RouteDeps, query: Query): Promise<{ access: CallerAccess; projectId?: string }> {
  const organizationId = uuidParam(query, 'organizationId', true)
  const access = await accessTo(request, deps.identity, organizationId, deps.entitled)
  const projectId = uuidParam(query, 'projectId')
  if (projectId) {
    const project = await deps.identity.getProject(projectId)
    if (!project || project.organizationId !== organizationId) throw notFound('No such project in this organization')
  }
  return { access, projectId }
}

/**
 * The common start of the organization-or-project views: no parameter outside `allowed`, the
 * caller's access to the organization (and project), and the time range (30 days by default).
 */
async function scopedRange(request: FastifyRequest, deps: RouteDeps, query: Query, allowed: readonly string[], now: number): Promise<{ access: CallerAccess; projectId?: string; range: TimeRange }> {
  rejectUnknown(query, ['organizationId', 'projectId', ...allowed, ...RANGE])
  const { access, projectId } = await resolve(request, deps, query)
  return { access, projectId, range: parseTimeRange(query, now, { window: '30d' }) }
}

/** GET /analytics/summary|activity|members|members/:userId|models. */
export function registerAnalyticsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const now = deps.now ?? Date.now

  app.get('/summary', async (request, reply) => {
    const query = request.query as Query
    const { access, projectId, range } = await scopedRange(request, deps, query, [], now())
    const format = enumParam(query, 'format', FORMATS)
    enforcePlan(access, deps.policy, { orgWide: access.orgWide && !projectId, days: spanDays(range) })
    const body = await deps.service.summary(scopeFor(access, projectId), range)
    return sendView(reply, format, `analytics-summary_${fileStamp(range)}`, body, () => ({
      columns: ['from', 'to', 'timezone', ...TOTAL_COLUMNS],
      rows: [{ from: body.from, to: body.to, timezone: body.timezone, ...body.totals }],
    }))
  })

  app.get('/activity', async (request, reply) => {
    const query = request.query as Query
    const { access, projectId, range } = await scopedRange(request, deps, query, ['groupBy', 'table'], now())
    const groupBy = enumParam<GroupBy>(query, 'groupBy', GROUP_BYS, 'model') as GroupBy
    const table = enumParam(query, 'table', ['series', 'ranking'] as const, 'series')
    const format = enumParam(query, 'format', FORMATS)
    if (table === 'ranking' && format !== 'csv') throw invalidQuery('table', 'applies to format=csv only')
    enforcePlan(access, deps.policy, { orgWide: access.orgWide && !projectId, days: spanDays(range) })
    const body = await deps.service.activity(scopeFor(access, projectId), range, groupBy)
    return sendView(reply, format, `analytics-activity-${groupBy}-${table}_${fileStamp(range)}`, body, () =>
      table === 'ranking'
        ? { columns: ['key', 'label', 'share', ...TOTAL_COLUMNS], rows: body.ranking }
        : { columns: ['bucketStart', 'bucketLabel', 'key', 'label', ...TOTAL_COLUMNS], rows: body.series },
    )
  })

  app.get('/members', async (request, reply) => {
    const query = request.query as Query
    rejectUnknown(query, ['organizationId', ...RANGE])
    const { access } = await resolve(request, deps, query)
    const range = parseTimeRange(query, now(), { window: '30d' })
    const format = enumParam(query, 'format', FORMATS)
    enforcePlan(access, deps.policy, { members: true, days: spanDays(range) })
    const body = await deps.service.members(scopeFor(access), range)
    return sendView(reply, format, `analytics-members_${fileStamp(range)}`, body, () => ({
      columns: ['userId', 'email', 'name', 'role', 'keyCount', ...TOTAL_COLUMNS],
      rows: body.data,
    }))
  })

  app.get<{ Params: { userId: string } }>('/members/:userId', async (request, reply) => {
    const query = request.query as Query
    rejectUnknown(query, ['organizationId', 'projectId', ...RANGE])
    const { userId } = request.params
    const { access, projectId } = await resolve(request, deps, query)
    if (!UUID.test(userId)) throw notFound('No such member in this organization')
    assertMayReadMember(access, userId.toLowerCase())
    const range = parseTimeRange(query, now(), { window: '30d' })
    const format = enumParam(query, 'format', FORMATS)
    enforcePlan(access, deps.policy, { members: true, days: spanDays(range) })
    const body = await deps.service.member({ organizationId: access.organizationId, ...(projectId ? { projectId } : {}) }, range, userId.toLowerCase())
    return sendView(reply, format, `analytics-member-${userId}_${fileStamp(range)}`, body, () => ({
      columns: ['model', 'provider', ...TOTAL_COLUMNS],
      rows: body.costByModel,
    }))
  })

  app.get('/models', async (request, reply) => {
    const query = request.query as Query
    const { access, projectId, range } = await scopedRange(request, deps, query, [], now())
    const format = enumParam(query, 'format', FORMATS)
    enforcePlan(access, deps.policy, { orgWide: access.orgWide && !projectId, days: spanDays(range) })
    const body = await deps.service.models(scopeFor(access, projectId), range)
    const columns = ['provider', 'model', 'requests', 'errors', 'errorRate', 'cost', 'tokens', 'costPer1kTokens', 'latencyP50Ms', 'latencyP90Ms', 'latencyP95Ms', 'latencyP99Ms', 'latencyMaxMs', 'ttftP50Ms', 'ttftP95Ms', 'ttftP99Ms']
    return sendView(reply, format, `analytics-models_${fileStamp(range)}`, body, () => ({
      columns,
      rows: body.data.map((d) => ({
        ...d,
        latencyP50Ms: d.latencyMs.p50,
        latencyP90Ms: d.latencyMs.p90,
        latencyP95Ms: d.latencyMs.p95,
        latencyP99Ms: d.latencyMs.p99,
        latencyMaxMs: d.latencyMs.max,
        ttftP50Ms: d.ttftMs.p50,
        ttftP95Ms: d.ttftMs.p95,
        ttftP99Ms: d.ttftMs.p99,
      })),
    }))
  })
}

/**
 * GET /v1/keys/:keyId/usage. Core serves /v1/keys/:keyId (the key itself); this plugin adds the
 * usage sub-resource beside it with the same rule as core's key routes: owners and admins read
 * any key of their organization, others only their own keys; anything else is 404.
 */
export function registerKeyUsageRoute(app: FastifyInstance, deps: RouteDeps): void {
  const now = deps.now ?? Date.now
  app.get<{ Params: { keyId: string } }>('/:keyId/usage', async (request, reply) => {
    const query = request.query as Query
    rejectUnknown(query, RANGE)
    const { keyId } = request.params
    if (!UUID.test(keyId)) throw notFound('No such API key')
    const scope = await deps.identity.resourceScope('api_key', keyId.toLowerCase())
    if (!scope) throw notFound('No such API key')
    const access = await accessTo(request, deps.identity, scope.organizationId, deps.entitled)
    const key = await deps.identity.getApiKey(keyId.toLowerCase())
    if (!key || (!access.orgWide && key.ownerUserId !== access.principal.userId)) throw notFound('No such API key')
    const range = parseTimeRange(query, now(), { window: '30d' })
    const format = stringParam(query, 'format') === undefined ? undefined : enumParam(query, 'format', FORMATS)
    enforcePlan(access, deps.policy, { days: spanDays(range) })
    const body = await deps.service.keyUsage(scope.organizationId, key, range)
    return sendView(reply, format, `analytics-key-${key.prefix}_${fileStamp(range)}`, body, () => ({
      columns: ['bucketStart', 'bucketLabel', ...TOTAL_COLUMNS],
      rows: body.series,
    }))
  })
}
