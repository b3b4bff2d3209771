import { formatUsd, type TxEntityManager } from '@tollgate/core'
import { decodeCursor, encodeCursor } from '../cursor.js'

/** One proxied request's metadata (seed list: time, provider, model, tokens, cost vs market, latency, status, key name, client IP, streaming, user agent). */
export interface RequestLogEntry {
  id: string
  requestId: string
  occurredAt: string
  organizationId: string
  projectId: string | null
  apiKeyId: string | null
  apiKeyName: string | null
  apiKeyPrefix: string | null
  userId: string | null
  provider: string | null
  model: string | null
  upstreamModel: string | null
  inputTokens: number
  outputTokens: number
  cachedReadTokens: number
  cacheWriteTokens: number
  /** Your cost, USD decimal string (exact). */
  cost: string
  /** The market rate's cost, USD decimal string. */
  marketCost: string
  latencyMs: number
  ttftMs: number | null
  status: number
  errorCode: string | null
  streaming: boolean
  clientIp: string | null
  userAgent: string | null
  appName: string | null
  estimated: boolean
}

/** The export's columns, in order. */
export const REQUEST_LOG_COLUMNS: readonly (keyof RequestLogEntry)[] = [
  'id', 'requestId', 'occurredAt', 'organizationId', 'projectId', 'apiKeyId', 'apiKeyName', 'apiKeyPrefix', 'userId', 'provider', 'model',
  'upstreamModel', 'inputTokens', 'outputTokens', 'cachedReadTokens', 'cacheWriteTokens', 'cost', 'marketCost', 'latencyMs', 'ttftMs',
  'status', 'errorCode', 'streaming', 'clientIp', 'userAgent', 'appName', 'estimated',
]

/** Filters of the request log. */
export interface RequestLogFilter {
  organizationId?: string
  from?: Date
  to?: Date
  projectId?: string
  apiKeyId?: string
  /** The key's owner (the actor of a request). */
  userId?: string
  provider?: string
  model?: string
  status?: number
  /** "2xx", "4xx", "5xx". */
  statusClass?: string
  streaming?: boolean
  /** Free text: matches request id, model, key name or prefix, client IP, user agent, error code. */
  q?: string
}

interface Row {
  id: string | number
  request_id: string
  occurred_at: Date | string
  organization_id: string
  project_id: string | null
  api_key_id: string | null
  api_key_name: string | null
  api_key_prefix: string | null
  user_id: string | null
  provider: string | null
  model: string | null
  upstream_model: string | null
  input_tokens: number
  output_tokens: number
  cached_read_tokens: number
  cache_write_tokens: number
  cost: string | number
  market_cost: string | number
  latency_ms: number
  ttft_ms: number | null
  status: number
  error_code: string | null
  streaming: boolean
  client_ip: string | null
  user_agent: string | null
  app_name: string | null
  estimated: boolean
}

const COLUMNS = `id, request_id, occurred_at, organization_id, project_id, api_key_id, api_key_name, api_key_prefix, user_id, provider, model, upstream_model,
  input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, cost, market_cost, latency_ms, ttft_ms, status, error_code, streaming,
  client_ip, user_agent, app_name, estimated`

function toEntry(r: Row): RequestLogEntry {
  return {
    id: String(r.id),
    requestId: r.request_id,
    occurredAt: (r.occurred_at instanceof Date ? r.occurred_at : new Date(r.occurred_at)).toISOString(),
    organizationId: r.organization_id,
    projectId: r.project_id,
    apiKeyId: r.api_key_id,
    apiKeyName: r.api_key_name,
    apiKeyPrefix: r.api_key_prefix,
    userId: r.user_id,
    provider: r.provider,
    model: r.model,
    upstreamModel: r.upstream_model,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cachedReadTokens: r.cached_read_tokens,
    cacheWriteTokens: r.cache_write_tokens,
    cost: formatUsd(BigInt(r.cost)),
    marketCost: formatUsd(BigInt(r.market_cost)),
    latencyMs: r.latency_ms,
    ttftMs: r.ttft_ms,
    status: r.status,
    errorCode: r.error_code,
    streaming: r.streaming,
    clientIp: r.client_ip,
    userAgent: r.user_agent,
    appName: r.app_name,
    estimated: r.estimated,
  }
}

function where(f: RequestLogFilter): { sql: string; params: unknown[] } {
  const w: string[] = []
  const params: unknown[] = []
  const add = (clause: string, ...values: unknown[]) => {
    w.push(clause)
    params.push(...values)
  }
  if (f.organizationId) add('organization_id = ?', f.organizationId)
  if (f.from) add('occurred_at >= ?::timestamptz', f.from.toISOString())
  if (f.to) add('occurred_at < ?::timestamptz', f.to.toISOString())
  if (f.projectId) add('project_id = ?', f.projectId)
  if (f.apiKeyId) add('api_key_id = ?', f.apiKeyId)
  if (f.userId) add('user_id = ?', f.userId)
  if (f.provider) add('provider = ?', f.provider)
  if (f.model) add('model = ?', f.model)
  if (f.status !== undefined) add('status = ?', f.status)
  if (f.statusClass) {
    const base = Number(f.statusClass[0]) * 100
    add('status >= ? and status < ?', base, base + 100)
  }
  if (f.streaming !== undefined) add('streaming = ?', f.streaming)
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, '\\$&')}%`
    add(
      '(request_id ilike ? or model ilike ? or api_key_name ilike ? or api_key_prefix ilike ? or client_ip ilike ? or user_agent ilike ? or error_code ilike ?)',
      like, like, like, like, like, like, like,
    )
  }
  return { sql: w.length > 0 ? w.join(' and ') : 'true', params }
}

/** A page of the request log, newest first, with the cursor of the next page. */
export async function listRequests(em: TxEntityManager, filter: RequestLogFilter, limit: number, cursor?: string): Promise<{ data: RequestLogEntry[]; nextCursor: string | null }> {
  const w = where(filter)
  const c = decodeCursor<{ t: string; i: string }>(cursor, ['t', 'i'])
  const params = [...w.params]
  if (c) params.push(c.t, c.i)
  params.push(limit + 1)
  const rows = await em.execute<Row[]>(
    `select ${COLUMNS} from audit_request_log where ${w.sql}${c ? ' and (occurred_at, id) < (?::timestamptz, ?::bigint)' : ''} order by occurred_at desc, id desc limit ?`,
    params,
    'all',
  )
  const data = rows.slice(0, limit).map(toEntry)
  const last = data[data.length - 1]
  return { data, nextCursor: rows.length > limit && last ? encodeCursor({ t: last.occurredAt, i: last.id }) : null }
}

/** One request's metadata, by request id, within an organization (or any, for platform administrators). */
export async function getRequest(em: TxEntityManager, requestId: string, organizationId?: string): Promise<RequestLogEntry | undefined> {
  const [row] = await em.execute<Row[]>(
    `select ${COLUMNS} from audit_request_log where request_id = ?${organizationId ? ' and organization_id = ?' : ''}`,
    organizationId ? [requestId, organizationId] : [requestId],
    'all',
  )
  return row ? toEntry(row) : undefined
}

/** The stored verbose data of a request, if its organization retained it and the window has not passed. */
export async function getRequestBody(em: TxEntityManager, requestId: string): Promise<{ request: unknown; response: unknown; error: unknown; capturedAt: string; nullifiedAt: string | null } | undefined> {
  const [row] = await em.execute<{ request: unknown; response: unknown; error: unknown; captured_at: Date | string; nullified_at: Date | string | null }[]>(
    'select request, response, error, captured_at, nullified_at from audit_request_body where request_id = ?',
    [requestId],
    'all',
  )
  if (!row) return undefined
  const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString()
  return { request: row.request, response: row.response, error: row.error, capturedAt: iso(row.captured_at), nullifiedAt: row.nullified_at ? iso(row.nullified_at) : null }
}

/**
 * Every request matching the filter, oldest first, read in keyset batches (flat memory whatever
 * the count; small batches, as a batch's rows are decoded in one stretch of the event loop).
 */
export async function* streamRequests(em: TxEntityManager, filter: RequestLogFilter, batchSize = 1000): AsyncGenerator<RequestLogEntry[]> {
  const w = where(filter)
  let after: { t: string; i: string } | undefined
  for (;;) {
    const params = [...w.params]
    if (after) params.push(after.t, after.i)
    params.push(batchSize)
    const rows = await em.execute<Row[]>(
      `select ${COLUMNS} from audit_request_log where ${w.sql}${after ? ' and (occurred_at, id) > (?::timestamptz, ?::bigint)' : ''} order by occurred_at, id limit ?`,
      params,
      'all',
    )
    const entries = rows.map(toEntry)
    yield entries
    if (entries.length < batchSize) return
    const last = entries[entries.length - 1]
    after = { t: last.occurredAt, i: last.id }
  }
}
