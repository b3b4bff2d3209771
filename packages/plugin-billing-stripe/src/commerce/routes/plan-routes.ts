import { randomUUID } from 'node:crypto'
import { TollgateError, formatUsd } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { authorizeBilling } from '../billing-access.js'
import type { CommerceContext } from '../commerce-context.js'
import { inTransaction, reader, rows } from '../commerce-db.js'
import { type PlanLimitGuard, usageMetrics } from '../plan-limits.js'
import { effectivePlan, orgPlanById, planView } from '../plans.js'
import { cancelSubscription, liveSubscription, subscribe, subscriptionView } from '../subscriptions.js'
import { type OrgParams, orgParams } from './route-helpers.js'

const intervalSchema = { enum: ['month', 'year'] } as const

/** Plans, subscriptions, developer plans, plan requests, admin-assigned plans and usage against limits. */
export function planRoutes(ctx: CommerceContext, guard: PlanLimitGuard) {
  return async (app: FastifyInstance) => {
    app.get('/plans', async () => ({
      plans: Object.values(ctx.config.plans).map(planView),
      developerPlans: Object.values(ctx.config.developerPlans).map(planView),
    }))

    app.get<{ Params: OrgParams }>('/organizations/:organizationId/plan', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params
      await authorizeBilling(ctx, request, organizationId, 'view')
      const em = reader(ctx.host.db)
      const plan = await effectivePlan(ctx, em, organizationId)
      return { plan: planView(plan.plan), source: plan.source, netDays: plan.netDays, subscription: subscriptionView(await liveSubscription(em, { organizationId }, 'organization')) }
    })

    app.get<{ Params: OrgParams }>('/organizations/:organizationId/usage-limits', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params
      await authorizeBilling(ctx, request, organizationId, 'view')
      return usageMetrics(ctx, organizationId)
    })

    app.post<{ Params: OrgParams; Body: { plan: string; interval: 'month' | 'year' } }>(
      '/organizations/:organizationId/subscription',
      {
        schema: {
          params: orgParams,
          body: { type: 'object', additionalProperties: false, required: ['plan', 'interval'], properties: { plan: { type: 'string' }, interval: intervalSchema } },
        },
      },
      async (request, reply) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'plan')
        const plan = orgPlanById(ctx, request.body.plan)
        if (plan.assignedByAdmin && !caller.platformAdmin) {
          throw new TollgateError('TOLLGATE_ERR_PLAN_CHANGE_FORBIDDEN', `The ${plan.name} plan is arranged with a platform administrator: POST /billing/organizations/${organizationId}/plan-requests to request it`, { field: 'plan' })
        }
        if (plan.id === 'free') {
          const cancelled = await cancelSubscription(ctx, { organizationId }, 'organization', { userId: caller.principal.userId })
          guard.invalidate(organizationId)
          return { mode: 'cancelled', subscription: cancelled }
        }
        const result = await subscribe(ctx, { organizationId }, 'organization', plan.id, request.body.interval, { userId: caller.principal.userId })
        guard.invalidate(organizationId)
        return reply.code(result.mode === 'checkout' ? 201 : 200).send(result)
      },
    )

    app.delete<{ Params: OrgParams }>('/organizations/:organizationId/subscription', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params
      const caller = await authorizeBilling(ctx, request, organizationId, 'plan')
      const sub = await cancelSubscription(ctx, { organizationId }, 'organization', { userId: caller.principal.userId })
      guard.invalidate(organizationId)
      return { subscription: sub }
    })

    // A member's personal developer plan (Lite, Pro, Max): credits land on their personal account in this organization.
    app.post<{ Params: OrgParams; Body: { plan: string; interval: 'month' | 'year' } }>(
      '/organizations/:organizationId/developer-plan',
      {
        schema: {
          params: orgParams,
          body: { type: 'object', additionalProperties: false, required: ['plan', 'interval'], properties: { plan: { type: 'string' }, interval: intervalSchema } },
        },
      },
      async (request, reply) => {
        const { organizationId } = request.params
        const p = (await authorizeBilling(ctx, request, organizationId, 'member')).principal
        const result = await subscribe(ctx, { organizationId, userId: p.userId }, 'developer', request.body.plan, request.body.interval, { userId: p.userId })
        return reply.code(result.mode === 'checkout' ? 201 : 200).send(result)
      },
    )

    app.get<{ Params: OrgParams }>('/organizations/:organizationId/developer-plan', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params
      const p = (await authorizeBilling(ctx, request, organizationId, 'member')).principal
      const account = { organizationId, userId: p.userId }
      return { subscription: subscriptionView(await liveSubscription(reader(ctx.host.db), account, 'developer')), balanceUsd: formatUsd(await ctx.ledger.balance(account)) }
    })

    app.post<{ Params: OrgParams; Body: { plan: string; interval?: 'month' | 'year'; note?: string } }>(
      '/organizations/:organizationId/plan-requests',
      {
        schema: {
          params: orgParams,
          body: { type: 'object', additionalProperties: false, required: ['plan'], properties: { plan: { type: 'string' }, interval: intervalSchema, note: { type: 'string', maxLength: 2000 } } },
        },
      },
      async (request, reply) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'plan')
        orgPlanById(ctx, request.body.plan)
        const id = randomUUID()
        await inTransaction(ctx.host.db, async (em) => {
          await rows(em, 'insert into billing_plan_request (id, organization_id, plan, billing_interval, note, requested_by) values (?, ?, ?, ?, ?, ?) returning id', [
            id,
            organizationId,
            request.body.plan,
            request.body.interval ?? null,
            request.body.note ?? null,
            caller.principal.userId,
          ])
          await ctx.host.events.emit(
            'billing.planRequested',
            { organizationId, requestId: id, plan: request.body.plan, ...(request.body.interval ? { interval: request.body.interval } : {}), ...(request.body.note ? { note: request.body.note } : {}) },
            { organizationId, actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em },
          )
        })
        return reply.code(201).send({ id, status: 'open' })
      },
    )

    app.get('/admin/plan-requests', async (request) => {
      await authorizeBilling(ctx, request, undefined, 'platform')
      const list = await rows<{ id: string; organization_id: string; plan: string; billing_interval: string | null; note: string | null; status: string; created_at: Date | string }>(
        reader(ctx.host.db),
        'select * from billing_plan_request order by created_at desc limit 500',
      )
      return { requests: list.map((r) => ({ id: r.id, organizationId: r.organization_id, plan: r.plan, interval: r.billing_interval, note: r.note, status: r.status, createdAt: new Date(r.created_at).toISOString() })) }
    })

    app.patch<{ Params: { requestId: string }; Body: { status: 'approved' | 'rejected' } }>(
      '/admin/plan-requests/:requestId',
      {
        schema: {
          params: { type: 'object', required: ['requestId'], properties: { requestId: { type: 'string', format: 'uuid' } } },
          body: { type: 'object', additionalProperties: false, required: ['status'], properties: { status: { enum: ['approved', 'rejected'] } } },
        },
      },
      async (request) => {
        await authorizeBilling(ctx, request, undefined, 'platform')
        const [row] = await rows<{ id: string; status: string }>(reader(ctx.host.db), "update billing_plan_request set status = ? where id = ? and status = 'open' returning id, status", [request.body.status, request.params.requestId])
        if (!row) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'No open plan request with that id')
        return row
      },
    )

    // Platform administrators assign plans with custom terms (Enterprise, Net-30 invoicing).
    app.put<{ Params: OrgParams; Body: { plan: string | null; netDays?: number; requestId?: string } }>(
      '/admin/organizations/:organizationId/plan',
      {
        schema: {
          params: orgParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['plan'],
            properties: { plan: { type: ['string', 'null'] }, netDays: { type: 'integer', minimum: 0, maximum: 365 }, requestId: { type: 'string', format: 'uuid' } },
          },
        },
      },
      async (request) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'platform')
        if (!(await ctx.identity.getOrganization(organizationId))) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Organization not found')
        if (request.body.plan !== null) orgPlanById(ctx, request.body.plan)
        const result = await inTransaction(ctx.host.db, async (em) => {
          const before = await effectivePlan(ctx, em, organizationId)
          if (request.body.plan === null) await rows(em, 'delete from billing_org_plan where organization_id = ? returning organization_id', [organizationId])
          else {
            await rows(
              em,
              `insert into billing_org_plan (organization_id, plan, net_days, assigned_by) values (?, ?, ?, ?)
               on conflict (organization_id) do update set plan = excluded.plan, net_days = excluded.net_days, assigned_by = excluded.assigned_by, updated_at = now() returning plan`,
              [organizationId, request.body.plan, request.body.netDays ?? null, caller.principal.userId],
            )
          }
          if (request.body.requestId) await rows(em, "update billing_plan_request set status = 'approved' where id = ? and organization_id = ? returning id", [request.body.requestId, organizationId])
          const after = await effectivePlan(ctx, em, organizationId)
          await ctx.host.events.emit(
            'billing.planAssigned',
            { organizationId, before: { plan: before.plan.id, source: before.source, netDays: before.netDays }, after: { plan: after.plan.id, source: after.source, netDays: after.netDays } },
            { organizationId, actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em },
          )
          return after
        })
        guard.invalidate(organizationId)
        return { plan: planView(result.plan), source: result.source, netDays: result.netDays }
      },
    )

    app.get<{ Params: OrgParams }>('/organizations/:organizationId/contacts', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params
      await authorizeBilling(ctx, request, organizationId, 'view')
      const list = await rows<{ user_id: string; email: string; name: string | null; created_at: Date | string }>(
        reader(ctx.host.db),
        'select c.user_id, u.email, u.name, c.created_at from billing_contact c join core_user u on u.id = c.user_id where c.organization_id = ? order by c.created_at',
        [organizationId],
      )
      return { contacts: list.map((c) => ({ userId: c.user_id, email: c.email, name: c.name, addedAt: new Date(c.created_at).toISOString() })) }
    })

    app.put<{ Params: OrgParams & { userId: string } }>(
      '/organizations/:organizationId/contacts/:userId',
      { schema: { params: { type: 'object', required: ['organizationId', 'userId'], properties: { organizationId: { type: 'string' }, userId: { type: 'string', format: 'uuid' } } } } },
      async (request) => {
        const { organizationId, userId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'manage')
        if (!(await ctx.identity.membership(organizationId, userId))) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'userId: a billing contact must be a member of the organization', { field: 'userId' })
        await inTransaction(ctx.host.db, async (em) => {
          const added = await rows(em, 'insert into billing_contact (organization_id, user_id, added_by) values (?, ?, ?) on conflict do nothing returning user_id', [organizationId, userId, caller.principal.userId])
          if (added.length > 0) {
            await ctx.host.events.emit('billing.contactChanged', { organizationId, userId, after: { billingContact: true } }, { organizationId, actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em })
          }
        })
        return { userId, billingContact: true }
      },
    )

    app.delete<{ Params: OrgParams & { userId: string } }>(
      '/organizations/:organizationId/contacts/:userId',
      { schema: { params: { type: 'object', required: ['organizationId', 'userId'], properties: { organizationId: { type: 'string' }, userId: { type: 'string', format: 'uuid' } } } } },
      async (request) => {
        const { organizationId, userId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'manage')
        const removed = await inTransaction(ctx.host.db, async (em) => {
          const gone = await rows(em, 'delete from billing_contact where organization_id = ? and user_id = ? returning user_id', [organizationId, userId])
          if (gone.length > 0) {
            await ctx.host.events.emit('billing.contactChanged', { organizationId, userId, before: { billingContact: true }, after: { billingContact: false } }, { organizationId, actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em })
          }
          return gone.length > 0
        })
        if (!removed) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'That member is not a billing contact')
        return { userId, billingContact: false }
      },
    )

  }
}
