import type { FastifyInstance } from 'fastify'
import type { RetentionMode } from '../request-log/retention-policies.js'
import { authorizeOrganization } from './access.js'
import { type AuditRouteDeps, orgParams } from './route-deps.js'

const putBody = {
  type: 'object',
  required: ['mode'],
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['retain', 'none'], description: 'retain: store full request and response bodies; none: metadata only' },
    windowDays: { type: 'integer', minimum: 1, maximum: 36500, description: 'Days verbose data is kept (default: the plugin\'s retention.windowDays)' },
  },
} as const

/** An organization's retention policy: read (admins, platform administrators) and change (owners and admins; audited). */
export function registerRetentionRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  app.get<{ Params: { organizationId: string } }>('/organizations/:organizationId/retention', { schema: { params: orgParams } }, async (request) => {
    await authorizeOrganization(request, deps.identity, request.params.organizationId)
    const { mode, windowDays, custom } = await deps.policies.get(request.params.organizationId)
    return { organizationId: request.params.organizationId, mode, windowDays, custom }
  })

  app.put<{ Params: { organizationId: string }; Body: { mode: RetentionMode; windowDays?: number } }>(
    '/organizations/:organizationId/retention',
    { schema: { params: orgParams, body: putBody } },
    async (request) => {
      const { organizationId } = request.params
      const principal = await authorizeOrganization(request, deps.identity, organizationId, 'write')
      const { after } = await deps.db.orm.em.fork().transactional(async (em) => {
        const change = await deps.policies.set(em, organizationId, request.body)
        await deps.events.emit(
          'audit.retentionChanged',
          { organizationId, before: { mode: change.before.mode, windowDays: change.before.windowDays }, after: { mode: change.after.mode, windowDays: change.after.windowDays } },
          {
            organizationId,
            actor: principal.kind === 'api_key' && principal.apiKeyId ? { type: 'api_key', id: principal.apiKeyId } : { type: 'user', id: principal.userId },
            ip: request.ip,
            userAgent: request.headers['user-agent'],
            em,
          },
        )
        return change
      })
      deps.policies.invalidate(organizationId)
      return { organizationId, mode: after.mode, windowDays: after.windowDays, custom: true }
    },
  )
}
