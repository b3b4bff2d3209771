import { actorOf, assertRouteHasAuthz, createAuthzHook, type IdentityService, organizationOf, type RouteAuthz } from '@tollgate/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { policySchema } from '../engine/policy-schema.js'
import { type PolicyInput, validatePolicy } from '../engine/validate-policy.js'
import type { PolicyScope } from '../events.js'
import type { PolicyActor, PolicyStore } from '../store/policy-store.js'

/** What the routes need. */
export interface RouteDeps {
  identity: IdentityService
  policies: PolicyStore
  db: import('@tollgate/core').Database
  knownRules: () => { rules: ReadonlySet<string>; categories: ReadonlySet<string> }
  listRules: () => unknown[]
}

const rule = (scope: RouteAuthz['scope'], minRole: RouteAuthz['minRole']) => ({ authz: { scope, minRole } })
const orgParams = { type: 'object', required: ['organizationId'], properties: { organizationId: { type: 'string', format: 'uuid' } } } as const
const projectParams = { type: 'object', required: ['projectId'], properties: { projectId: { type: 'string', format: 'uuid' } } } as const

function byOf(request: FastifyRequest): PolicyActor {
  const a = actorOf(request)
  return { actor: a.apiKeyId ? { type: 'api_key', id: a.apiKeyId } : { type: 'user', id: a.userId }, ip: a.ip, userAgent: a.userAgent }
}

/**
 * Guardrail management routes (mounted under /v1/guardrails): read, set and reset the policy
 * of an organization or a project (owner or admin to change, member to read), the
 * organization's violation log (admin), and the rules in force. Every route declares
 * `config.authz` and is authorized by core's hook, like core's management API.
 */
export async function registerPolicyRoutes(app: FastifyInstance, d: RouteDeps): Promise<void> {
  app.addHook('onRoute', assertRouteHasAuthz)
  app.addHook('preValidation', createAuthzHook(d.identity))

  const view = (scope: PolicyScope) => {
    const stored = d.policies.get(scope)
    return { ...scope, policy: stored?.policy ?? null, version: stored?.version ?? 0, updatedAt: stored?.updatedAt ?? null, effective: d.policies.effective(scope) }
  }
  const put = async (request: FastifyRequest, scope: PolicyScope) => {
    const known = d.knownRules()
    const policy = validatePolicy(request.body as PolicyInput, known.rules, known.categories)
    await d.policies.put(scope, policy, byOf(request))
    return view(scope)
  }
  const reset = async (request: FastifyRequest, scope: PolicyScope) => {
    await d.policies.put(scope, undefined, byOf(request))
    return view(scope)
  }
  const orgScope = (request: FastifyRequest): PolicyScope => ({ organizationId: organizationOf(request) })
  const projectScope = (request: FastifyRequest): PolicyScope => ({ organizationId: organizationOf(request), projectId: (request.params as { projectId: string }).projectId })

  app.get('/rules', { config: rule({ kind: 'none' }, 'viewer') }, async () => ({ data: d.listRules() }))

  const orgUrl = '/organizations/:organizationId/policy'
  const inOrg = { kind: 'organization', param: 'organizationId' } as const
  app.get(orgUrl, { config: rule(inOrg, 'member'), schema: { params: orgParams } }, async (request) => view(orgScope(request)))
  app.put(orgUrl, { config: rule(inOrg, 'admin'), schema: { params: orgParams, body: policySchema } }, async (request) => put(request, orgScope(request)))
  app.delete(orgUrl, { config: rule(inOrg, 'admin'), schema: { params: orgParams } }, async (request) => reset(request, orgScope(request)))

  const projectUrl = '/projects/:projectId/policy'
  const inProject = { kind: 'resource', resource: 'project', param: 'projectId' } as const
  app.get(projectUrl, { config: rule(inProject, 'member'), schema: { params: projectParams } }, async (request) => view(projectScope(request)))
  app.put(projectUrl, { config: rule(inProject, 'admin'), schema: { params: projectParams, body: policySchema } }, async (request) => put(request, projectScope(request)))
  app.delete(projectUrl, { config: rule(inProject, 'admin'), schema: { params: projectParams } }, async (request) => reset(request, projectScope(request)))

  app.get<{ Querystring: { limit?: number; before?: string; requestId?: string } }>(
    '/organizations/:organizationId/violations',
    {
      config: rule(inOrg, 'admin'),
      schema: {
        params: orgParams,
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 }, before: { type: 'string', format: 'date-time' }, requestId: { type: 'string', maxLength: 200 } } },
      },
    },
    async (request) => {
      const q = request.query
      const params: unknown[] = [organizationOf(request)]
      let sql = 'select id, request_id, project_id, api_key_id, rule, category, action, direction, count, created_at from guardrails_violation where organization_id = ?'
      if (q.before) {
        sql += ' and created_at < ?'
        params.push(q.before)
      }
      if (q.requestId) {
        sql += ' and request_id = ?'
        params.push(q.requestId)
      }
      sql += ' order by created_at desc, id limit ?'
      params.push(q.limit ?? 100)
      const rows = await d.db.orm.em.fork().execute<Record<string, unknown>[]>(sql, params, 'all')
      return {
        data: rows.map((r) => ({
          id: r.id,
          requestId: r.request_id,
          projectId: r.project_id ?? null,
          apiKeyId: r.api_key_id ?? null,
          rule: r.rule,
          category: r.category,
          action: r.action,
          direction: r.direction,
          count: r.count,
          createdAt: new Date(r.created_at as string).toISOString(),
        })),
      }
    },
  )
}
