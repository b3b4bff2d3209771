import { TollgateError } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { type ExportColumn, type ExportFormat, exportHeaders, exportStream } from '../export/export-stream.js'
import { type AuditEntry, entryToJson } from '../trail/audit-entry.js'
import type { VerifyReport } from '../trail/chain-checker.js'
import { type Checkpoint, checkpointSignatureValid } from '../trail/checkpoint-signer.js'
import { listEntries, streamEntries, type TrailFilter } from '../trail/trail-query.js'
import { chainOrganizations, checkpointHead, listCheckpoints, verifyChain } from '../trail/trail-store.js'
import { authorizeOrganization, authorizePlatform } from './access.js'
import { type AuditRouteDeps, exportFormat, optionalDate, orgParams, pageQuery, timeRange, uuid } from './route-deps.js'

const filterQuery = {
  ...timeRange,
  actorType: { type: 'string', maxLength: 40 },
  actorId: { type: 'string', maxLength: 200 },
  action: { type: 'string', maxLength: 200, description: 'An action, or a prefix pattern such as api_key.*' },
  resourceType: { type: 'string', maxLength: 100 },
  resourceId: { type: 'string', maxLength: 200 },
} as const

interface FilterQuery {
  from?: string
  to?: string
  actorType?: string
  actorId?: string
  action?: string
  resourceType?: string
  resourceId?: string
  organizationId?: string
  limit?: number
  cursor?: string
  format?: ExportFormat
}

function filterOf(q: FilterQuery, organizationId: string | undefined): TrailFilter {
  return { organizationId, from: optionalDate(q.from), to: optionalDate(q.to), actorType: q.actorType, actorId: q.actorId, action: q.action, resourceType: q.resourceType, resourceId: q.resourceId }
}

/** The columns of a CSV export of the trail (diff and details as JSON text). */
export const ENTRY_CSV_COLUMNS: readonly ExportColumn<AuditEntry>[] = [
  { header: 'id', value: (e) => e.id },
  { header: 'organizationId', value: (e) => e.organizationId },
  { header: 'seq', value: (e) => e.seq },
  { header: 'occurredAt', value: (e) => e.occurredAt.toISOString() },
  { header: 'event', value: (e) => e.event },
  { header: 'actorType', value: (e) => e.actor.type },
  { header: 'actorId', value: (e) => e.actor.id },
  { header: 'action', value: (e) => e.action },
  { header: 'resourceType', value: (e) => e.resourceType },
  { header: 'resourceId', value: (e) => e.resourceId },
  { header: 'diff', value: (e) => e.diff },
  { header: 'details', value: (e) => e.details },
  { header: 'ip', value: (e) => e.ip },
  { header: 'userAgent', value: (e) => e.userAgent },
  { header: 'prevHash', value: (e) => e.prevHash },
  { header: 'hash', value: (e) => e.hash },
]

const checkpointSchema = {
  type: 'object',
  required: ['version', 'organizationId', 'seq', 'hash', 'signedAt', 'keyId', 'signature'],
  properties: {
    version: { const: 1 },
    organizationId: uuid,
    seq: { type: 'integer', minimum: 1 },
    hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    signedAt: { type: 'string' },
    keyId: { type: 'string' },
    signature: { type: 'string' },
  },
} as const

const verifyBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    checkpoints: { type: 'array', maxItems: 10_000, items: checkpointSchema, description: 'Checkpoints exported earlier and kept outside the database' },
    reference: {
      type: 'array',
      maxItems: 1_000_000,
      description: 'A trusted copy (an earlier JSON export of the trail): entries with at least seq and hash',
      items: { type: 'object', required: ['seq', 'hash'], properties: { seq: { type: 'integer', minimum: 1 }, hash: { type: 'string' } } },
    },
  },
} as const

/** Checks exported checkpoints given for verification: each must verify under a configured key. */
function trustedCheckpoints(list: Checkpoint[] | undefined, deps: AuditRouteDeps): Checkpoint[] {
  return (list ?? []).map((c, i) => {
    if (!checkpointSignatureValid(c, deps.publicKeys)) {
      throw new TollgateError('TOLLGATE_ERR_AUDIT_CHECKPOINT_INVALID', `checkpoints[${i}] does not verify under any configured public key (key id ${c.keyId})`, { field: `checkpoints[${i}]` })
    }
    return c
  })
}

/** The trail: list, export, verify, checkpoints; per organization and (platform administrators) across all. */
export function registerTrailRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const em = () => deps.db.orm.em.fork()

  app.get<{ Params: { organizationId: string }; Querystring: FilterQuery }>(
    '/organizations/:organizationId/entries',
    { schema: { params: orgParams, querystring: { type: 'object', additionalProperties: false, properties: { ...filterQuery, ...pageQuery } } } },
    async (request) => {
      const { organizationId } = request.params
      await authorizeOrganization(request, deps.identity, organizationId)
      const page = await listEntries(em(), filterOf(request.query, organizationId), request.query.limit ?? deps.defaultPageSize, request.query.cursor)
      return { data: page.data.map(entryToJson), nextCursor: page.nextCursor }
    },
  )

  app.get<{ Querystring: FilterQuery }>(
    '/entries',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: { organizationId: uuid, ...filterQuery, ...pageQuery } } } },
    async (request) => {
      authorizePlatform(request)
      const page = await listEntries(em(), filterOf(request.query, request.query.organizationId), request.query.limit ?? deps.defaultPageSize, request.query.cursor)
      return { data: page.data.map(entryToJson), nextCursor: page.nextCursor }
    },
  )

  const exportQuery = { type: 'object', additionalProperties: false, properties: { format: exportFormat, ...filterQuery } } as const
  app.get<{ Params: { organizationId: string }; Querystring: FilterQuery }>(
    '/organizations/:organizationId/entries/export',
    { schema: { params: orgParams, querystring: exportQuery } },
    async (request, reply) => {
      const { organizationId } = request.params
      await authorizeOrganization(request, deps.identity, organizationId)
      const format = request.query.format ?? 'csv'
      const stream = exportStream(streamEntries(em(), filterOf(request.query, organizationId)), format, ENTRY_CSV_COLUMNS, entryToJson)
      return reply.headers(exportHeaders(format, `audit-${organizationId}`)).send(stream)
    },
  )

  app.get<{ Querystring: FilterQuery }>(
    '/entries/export',
    { schema: { querystring: { ...exportQuery, properties: { ...exportQuery.properties, organizationId: uuid } } } },
    async (request, reply) => {
      authorizePlatform(request)
      const format = request.query.format ?? 'csv'
      const stream = exportStream(streamEntries(em(), filterOf(request.query, request.query.organizationId)), format, ENTRY_CSV_COLUMNS, entryToJson)
      return reply.headers(exportHeaders(format, 'audit-all')).send(stream)
    },
  )

  const verifyOne = async (organizationId: string, body?: { checkpoints?: Checkpoint[]; reference?: { seq: number; hash: string }[] }): Promise<VerifyReport> => {
    const reference = body?.reference ? new Map(body.reference.map((r) => [r.seq, r.hash])) : undefined
    return verifyChain(em(), organizationId, { publicKeys: deps.publicKeys, checkpoints: trustedCheckpoints(body?.checkpoints, deps), reference })
  }

  app.get<{ Params: { organizationId: string } }>('/organizations/:organizationId/verify', { schema: { params: orgParams } }, async (request) => {
    await authorizeOrganization(request, deps.identity, request.params.organizationId)
    return verifyOne(request.params.organizationId)
  })

  app.post<{ Params: { organizationId: string }; Body: { checkpoints?: Checkpoint[]; reference?: { seq: number; hash: string }[] } }>(
    '/organizations/:organizationId/verify',
    { schema: { params: orgParams, body: verifyBody }, bodyLimit: 256 * 1024 * 1024 },
    async (request) => {
      await authorizeOrganization(request, deps.identity, request.params.organizationId)
      return verifyOne(request.params.organizationId, request.body ?? {})
    },
  )

  app.get('/verify', async (request) => {
    authorizePlatform(request)
    const reports: VerifyReport[] = []
    for (const org of await chainOrganizations(em())) reports.push(await verifyOne(org))
    return { intact: reports.every((r) => r.intact), organizations: reports }
  })

  app.get<{ Params: { organizationId: string } }>('/organizations/:organizationId/checkpoints', { schema: { params: orgParams } }, async (request) => {
    await authorizeOrganization(request, deps.identity, request.params.organizationId)
    return {
      data: await listCheckpoints(em(), request.params.organizationId),
      publicKeys: [...deps.publicKeys].map(([keyId, key]) => ({ keyId, publicKey: key.export({ format: 'pem', type: 'spki' }).toString() })),
    }
  })

  app.post<{ Params: { organizationId: string } }>('/organizations/:organizationId/checkpoints', { schema: { params: orgParams } }, async (request, reply) => {
    const { organizationId } = request.params
    await authorizeOrganization(request, deps.identity, organizationId)
    const key = deps.privateKey
    if (!key) throw new TollgateError('TOLLGATE_ERR_AUDIT_CHECKPOINTS_DISABLED', 'Checkpoints are disabled: configure plugins.audit.checkpoints.privateKey (an Ed25519 key)')
    const c = await deps.db.orm.em.fork().transactional(async (tx) => {
      const made = await checkpointHead(tx, organizationId, key)
      if (made) await deps.events.emit('audit.checkpointSigned', { organizationId, seq: made.seq, hash: made.hash, keyId: made.keyId }, { organizationId, em: tx })
      return made
    })
    if (!c) throw new TollgateError('TOLLGATE_ERR_REQUEST_CONFLICT', 'The organization\'s audit trail is empty: there is nothing to checkpoint')
    return reply.code(201).send(c)
  })
}
