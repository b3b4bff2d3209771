import { formatUsd, type PluginHost, TollgateError } from '@tollgate/core'
import { isUuid } from '../ledger/account-directory.js'
import { requireBillingAccess, roleIn } from '../ledger/route-access.js'
import type { MeterEvent, MeterService } from './meter-service.js'

function eventJson(e: MeterEvent): Record<string, unknown> {
  return {
    id: e.id,
    organizationId: e.organizationId,
    meter: e.meter,
    kind: e.kind,
    quantity: e.quantity,
    unitPriceUsd: formatUsd(e.unitPrice),
    costUsd: formatUsd(e.cost),
    idempotencyKey: e.idempotencyKey,
    ...(e.projectId ? { projectId: e.projectId } : {}),
    ...(e.userId ? { userId: e.userId } : {}),
    occurredAt: e.occurredAt.toISOString(),
    localDay: e.localDay,
    settled: e.settled,
  }
}

/**
 * The metering API: `POST /billing/usage` records non-LLM usage idempotently (the key in the body
 * or the `Idempotency-Key` header; 201 when recorded, 200 with `duplicate: true` when the key was
 * seen), `GET /billing/meters` lists meters and prices, and
 * `GET /billing/organizations/:organizationId/meters` sums an organization's meters over a range.
 */
export function registerMeterRoutes(host: PluginHost, deps: { meters: MeterService }): void {
  const { meters } = deps
  host.routes('/billing', async (app) => {
    app.get('/meters', async () => ({ meters: [...meters.meters.values()].map((m) => ({ name: m.name, kind: m.kind, unitPriceUsd: formatUsd(m.unitPrice), per: m.kind === 'gauge' ? 'unit-day (daily peak)' : 'unit' })) }))

    app.post(
      '/usage',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['meter', 'quantity'],
            properties: {
              organizationId: { type: 'string' },
              meter: { type: 'string', minLength: 1, maxLength: 63 },
              quantity: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: '^\\d{1,15}(\\.\\d{1,6})?$' }] },
              idempotencyKey: { type: 'string', minLength: 1, maxLength: 255 },
              occurredAt: { type: 'string', format: 'date-time' },
              projectId: { type: 'string' },
              userId: { type: 'string' },
            },
          },
        },
      },
      async (request, reply) => {
        const p = request.principal
        if (!p) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Authentication required')
        const b = request.body as { organizationId?: string; meter: string; quantity: number | string; idempotencyKey?: string; occurredAt?: string; projectId?: string; userId?: string }
        const organizationId = b.organizationId ?? p.organizationId
        if (!isUuid(organizationId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'organizationId must be a UUID', { field: 'organizationId' })
        // Any member's key of the organization may report usage (services meter themselves); viewers may not.
        if (!p.platformAdmin) {
          const role = await roleIn(host, p, organizationId)
          if (!role) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
          if (role === 'viewer') throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Recording usage needs the developer role or higher')
        }
        const header = request.headers['idempotency-key']
        const idempotencyKey = b.idempotencyKey ?? (Array.isArray(header) ? header[0] : header)
        if (!idempotencyKey) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'idempotencyKey is required (in the body or the Idempotency-Key header)', { field: 'idempotencyKey' })
        const { event, duplicate } = await meters.record({
          organizationId,
          meter: b.meter,
          quantity: b.quantity,
          idempotencyKey,
          occurredAt: b.occurredAt ? new Date(b.occurredAt) : undefined,
          projectId: b.projectId,
          userId: b.userId,
        })
        return reply.code(duplicate ? 200 : 201).send({ event: eventJson(event), duplicate })
      },
    )

    app.get(
      '/organizations/:organizationId/meters',
      {
        schema: {
          params: { type: 'object', required: ['organizationId'], properties: { organizationId: { type: 'string' } } },
          querystring: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } } },
        },
      },
      async (request) => {
        const { organizationId } = request.params as { organizationId: string }
        await requireBillingAccess(host, request, organizationId, 'read')
        const q = request.query as { from: string; to: string }
        const rows = await meters.summary(organizationId, new Date(q.from), new Date(q.to))
        return { organizationId, from: q.from, to: q.to, meters: rows.map((r) => ({ meter: r.meter, kind: r.kind, quantity: r.quantity, costUsd: formatUsd(r.cost), events: r.events })) }
      },
    )
  })
}
