import { parse } from 'csv-parse/sync'
import t from 'tap'
import { auditGateway, bearer, platformAdminKey, requestLogHolds } from './support.js'

/** Every page of a list endpoint, in order. */
async function allPages(inject: (url: string) => Promise<{ json(): any }>, url: string): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = []
  let cursor: string | null = null
  do {
    const body = (await inject(`${url}${url.includes('?') ? '&' : '?'}limit=4${cursor ? `&cursor=${cursor}` : ''}`)).json()
    out.push(...body.data)
    cursor = body.nextCursor
  } while (cursor)
  return out
}

const emptyToNull = (v: string) => (v === '' ? null : v)

t.test('trail export: CSV and JSON of a filtered query parse back to the same entries', async (t) => {
  const { gw } = await auditGateway(t)
  const org = gw.organizationId
  const from = new Date(Date.now() - 1000).toISOString()
  for (let i = 0; i < 6; i++) {
    const p = await gw.identity.createProject({ organizationId: org, name: `p,"${i}"\nline é` })
    await gw.identity.updateProject(p.id, { name: `renamed ${i} 🚀` })
  }
  await gw.identity.createProject({ organizationId: org, name: 'after' })
  const inject = (url: string) => gw.app.inject({ method: 'GET', url, headers: bearer(gw.apiKey) })
  const filter = `action=project.updated&from=${encodeURIComponent(from)}`
  const listed = (await allPages(inject, `/audit/organizations/${org}/entries?${filter}`)).reverse()
  t.equal(listed.length, 6, 'the filter selects the six renames')

  const json = await inject(`/audit/organizations/${org}/entries/export?format=json&${filter}`)
  t.equal(json.statusCode, 200)
  t.match(json.headers['content-type'], /application\/json/)
  t.match(json.headers['content-disposition'], /attachment; filename="audit-.*\.json"/)
  t.same(json.json(), listed, 'JSON export = the listed entries')

  const csv = await inject(`/audit/organizations/${org}/entries/export?format=csv&${filter}`)
  t.match(csv.headers['content-type'], /text\/csv/)
  const rows = parse(csv.body, { columns: true }) as Record<string, string>[]
  const fromCsv = rows.map((r) => ({
    id: r.id,
    organizationId: r.organizationId,
    seq: Number(r.seq),
    occurredAt: r.occurredAt,
    event: r.event,
    actor: { type: r.actorType, id: r.actorId },
    action: r.action,
    resourceType: r.resourceType,
    resourceId: emptyToNull(r.resourceId),
    diff: r.diff === '' ? null : JSON.parse(r.diff),
    details: r.details === '' ? null : JSON.parse(r.details),
    ip: emptyToNull(r.ip),
    userAgent: emptyToNull(r.userAgent),
    prevHash: r.prevHash,
    hash: r.hash,
  }))
  t.same(fromCsv, listed, 'CSV export = the listed entries (commas, quotes, newlines and emoji survive)')

  const nd = await inject(`/audit/organizations/${org}/entries/export?format=ndjson&${filter}`)
  t.same(nd.body.trim().split('\n').map((l) => JSON.parse(l)), listed, 'JSON Lines too')

  const byActor = await inject(`/audit/organizations/${org}/entries/export?format=json&actorType=system&resourceType=organization`)
  t.same((byActor.json() as { action: string }[]).map((e) => e.action), ['organization.created'], 'filters by actor and resource')
  const bad = await inject(`/audit/organizations/${org}/entries/export?format=xml`)
  t.equal(bad.statusCode, 400)
  t.match(bad.json().error.message, /format/)
  const empty = await inject(`/audit/organizations/${org}/entries/export?format=json&action=nothing.here`)
  t.same(empty.json(), [], 'an empty export is valid JSON')
})

t.test('request log export: CSV and JSON round-trip; large exports stream in batches', async (t) => {
  const a = await auditGateway(t)
  const { gw, em } = a
  const org = gw.organizationId
  const url = await gw.listen({ port: 0 })
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(gw.apiKey), 'content-type': 'application/json', 'user-agent': `agent "${i}", with comma` },
      body: JSON.stringify({ model: 'mock-echo', stream: i % 2 === 1, messages: [{ role: 'user', content: `hi ${i}` }] }),
    })
    await res.text()
  }
  t.equal(await requestLogHolds(a, 5), 5)
  const inject = (u: string) => gw.app.inject({ method: 'GET', url: u, headers: bearer(gw.apiKey) })
  const listed = (await allPages(inject, `/audit/organizations/${org}/requests?streaming=false`)).reverse()
  t.equal(listed.length, 3)
  const json = await inject(`/audit/organizations/${org}/requests/export?format=json&streaming=false`)
  t.same(json.json(), listed, 'JSON export = the listed requests')
  const csv = await inject(`/audit/organizations/${org}/requests/export?streaming=false`)
  const ints = new Set(['inputTokens', 'outputTokens', 'cachedReadTokens', 'cacheWriteTokens', 'latencyMs', 'ttftMs', 'status'])
  const fromCsv = (parse(csv.body, { columns: true }) as Record<string, string>[]).map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === '' ? null : ints.has(k) ? Number(v) : k === 'streaming' || k === 'estimated' ? v === 'true' : v])),
  )
  t.same(fromCsv, listed, 'CSV export (default format) = the listed requests')

  // 25,000 rows: the export reads them in keyset batches and streams them out.
  await em().execute(
    `insert into audit_request_log (id, request_id, occurred_at, organization_id, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, cost, market_cost, latency_ms, status, streaming, estimated)
     select 1000000 + g, 'bulk-' || g, timestamptz '2026-01-01' + g * interval '1 second', ?, g % 100, g % 50, 0, 0, g * 1000, g * 2000, 5, 200, false, false from generate_series(1, 25000) g`,
    [org],
    'run',
  )
  const big = await inject(`/audit/organizations/${org}/requests/export?format=ndjson&to=2026-06-01T00:00:00Z`)
  const lines = big.body.trim().split('\n')
  t.equal(lines.length, 25000, 'every row once')
  t.equal(new Set(lines.map((l) => JSON.parse(l).requestId)).size, 25000)
  t.equal(JSON.parse(lines[24999]).requestId, 'bulk-25000', 'in time order')

  const padmin = await platformAdminKey(gw)
  const all = await gw.app.inject({ method: 'GET', url: `/audit/requests/export?format=json&organizationId=${org}&streaming=false&from=2026-06-01T00:00:00Z`, headers: bearer(padmin) })
  t.same(all.json(), listed, 'platform admins export any organization\'s log')
  t.equal((await inject('/audit/requests/export')).statusCode, 403, 'but organization admins do not export everyone\'s')
})
