import { TollgateError } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { type ExportColumn, type ExportFormat, exportHeaders, exportStream } from '../export/export-stream.js'
import { getRequest, getRequestBody, listRequests, REQUEST_LOG_COLUMNS, type RequestLogEntry, type RequestLogFilter, streamRequests } from '../request-log/request-log-query.js'
import { authorizeOrganization, authorizePlatform } from './access.js'
import { type AuditRouteDeps, exportFormat, optionalDate, orgParams, pageQuery, timeRange, uuid } from './route-deps.js'

const filterQuery = {
  ...timeRange,
  projectId: uuid,
  apiKeyId: uuid,
  userId: uuid,
  provider: { type: 'string', maxLength: 100 },
  model: { type: 'string', maxLength: 200 },
  status: { type: 'integer', minimum: 100, maximum: 599 },
  statusClass: { type: 'string', enum: ['2xx', '3xx', '4xx', '5xx'] },
  streaming: { type: 'boolean' },
  q: { type: 'string', minLength: 1, maxLength: 200, description: 'Matches request id, model, key name or prefix, client IP, user agent, error code' },
} as const

interface FilterQuery extends Omit<RequestLogFilter, 'from' | 'to'> {
  from?: string
  to?: string
  limit?: number
  cursor?: string
  format?: ExportFormat
}

function filterOf(q: FilterQuery, organizationId: string | undefined): RequestLogFilter {
  const { from, to, limit: _l, cursor: _c, format: _f, ...rest } = q
  return { ...rest, organizationId, from: optionalDate(from), to: optionalDate(to) }
}

/** CSV columns of the request log export: the metadata fields, in a stable order. */
export const REQUEST_CSV_COLUMNS: readonly ExportColumn<RequestLogEntry>[] = REQUEST_LOG_COLUMNS.map((k) => ({ header: k, value: (r: RequestLogEntry) => r[k] }))

/** The request log: search with cursor pagination, one request (with its retained body), export. */
export function registerRequestLogRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const em = () => deps.db.orm.em.fork()
  const listQuery = { type: 'object', additionalProperties: false, properties: { ...filterQuery, ...pageQuery } } as const
  const exportQuery = { type: 'object', additionalProperties: false, properties: { ...filterQuery, format: exportFormat } } as const

  app.get<{ Params: { organizationId: string }; Querystring: FilterQuery }>(
    '/organizations/:organizationId/requests',
    { schema: { params: orgParams, querystring: listQuery } },
    async (request) => {
      await authorizeOrganization(request, deps.identity, request.params.organizationId)
      return listRequests(em(), filterOf(request.query, request.params.organizationId), request.query.limit ?? deps.defaultPageSize, request.query.cursor)
    },
  )

  app.get<{ Querystring: FilterQuery & { organizationId?: string } }>(
    '/requests',
    { schema: { querystring: { ...listQuery, properties: { ...listQuery.properties, organizationId: uuid } } } },
    async (request) => {
      authorizePlatform(request)
      return listRequests(em(), filterOf(request.query, request.query.organizationId), request.query.limit ?? deps.defaultPageSize, request.query.cursor)
    },
  )

  app.get<{ Params: { organizationId: string; requestId: string } }>(
    '/organizations/:organizationId/requests/:requestId',
    { schema: { params: { type: 'object', required: ['organizationId', 'requestId'], properties: { organizationId: uuid, requestId: { type: 'string', maxLength: 200 } } } } },
    async (request) => {
      const { organizationId, requestId } = request.params
      await authorizeOrganization(request, deps.identity, organizationId)
      const entry = await getRequest(em(), requestId, organizationId)
      if (!entry) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `No logged request ${requestId} in this organization`)
      return { ...entry, body: (await getRequestBody(em(), requestId)) ?? null }
    },
  )

  app.get<{ Params: { organizationId: string }; Querystring: FilterQuery }>(
    '/organizations/:organizationId/requests/export',
    { schema: { params: orgParams, querystring: exportQuery } },
    async (request, reply) => {
      const { organizationId } = request.params
      await authorizeOrganization(request, deps.identity, organizationId)
      const format = request.query.format ?? 'csv'
      const stream = exportStream(streamRequests(em(), filterOf(request.query, organizationId)), format, REQUEST_CSV_COLUMNS, (r) => r)
      return reply.headers(exportHeaders(format, `requests-${organizationId}`)).send(stream)
    },
  )

  app.get<{ Querystring: FilterQuery & { organizationId?: string } }>(
    '/requests/export',
    { schema: { querystring: { ...exportQuery, properties: { ...exportQuery.properties, organizationId: uuid } } } },
    async (request, reply) => {
      authorizePlatform(request)
      const format = request.query.format ?? 'csv'
      const stream = exportStream(streamRequests(em(), filterOf(request.query, request.query.organizationId)), format, REQUEST_CSV_COLUMNS, (r) => r)
      return reply.headers(exportHeaders(format, 'requests-all')).send(stream)
    },
  )
}
