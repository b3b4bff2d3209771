import { definePlugin } from '@tollgate/core'
import OpenAI from 'openai'
import t from 'tap'
import { auditGateway, bearer, requestLogHolds } from './support.js'

/** A stand-in for billing's data-retention meter: a transactional subscriber of audit.retainedTokens. */
function retentionMeter(seen: { organizationId: string; tokens: number; requests: number }[]) {
  return definePlugin({
    id: 'meter',
    register(host) {
      host.events.on('audit.retainedTokens', async (p) => void seen.push({ organizationId: p.organizationId, tokens: p.tokens, requests: p.requests }), { transactional: true })
    },
  })()
}

t.test('request log: every proxied request\'s metadata, no content; filters and cursor pagination', async (t) => {
  const a = await auditGateway(t)
  const { gw, audit, em } = a
  const url = await gw.listen({ port: 0 })
  const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
  const plain = await openai.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'secret plans for the launch' }] })
  const stream = await openai.chat.completions.create({ model: 'mock-echo', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream me' }] })
  for await (const _ of stream) {
    // drain
  }
  await t.rejects(openai.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'fail [mock:status=503]' }] }))
  await requestLogHolds(a, 3)

  const res = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/requests`, headers: bearer(gw.apiKey) })
  t.equal(res.statusCode, 200)
  const rows = res.json().data as Record<string, any>[]
  t.equal(rows.length, 3, 'one row per request')
  const ok = rows.find((r) => r.requestId === plain._request_id) ?? {}
  t.ok(ok, 'the request id the client saw')
  t.match(ok, { provider: 'mock', model: 'mock-echo', status: 200, streaming: false, apiKeyName: 'test key', clientIp: '127.0.0.1', inputTokens: Number, outputTokens: Number, latencyMs: Number })
  t.match(ok.userAgent, /OpenAI\/JS/, 'the client\'s user agent')
  t.ok(Number(ok.cost) > 0 && Number(ok.marketCost) > Number(ok.cost), 'your cost and the market cost, as exact decimal strings')
  t.ok(rows.some((r) => r.streaming === true && r.status === 200), 'the streamed request')
  t.ok(rows.some((r) => r.status >= 500), 'the failed request')
  t.notOk(JSON.stringify(rows).includes('secret plans'), 'no prompt content in the log')
  const detail = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/requests/${plain._request_id}`, headers: bearer(gw.apiKey) })
  t.equal(detail.json().body, null, 'retention none: no body stored')
  const [{ n }] = await em().execute<{ n: number }[]>('select count(*)::int as n from audit_request_body', [], 'all')
  t.equal(n, 0)

  // Filters.
  const q = async (qs: string) => (await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/requests?${qs}`, headers: bearer(gw.apiKey) })).json().data as Record<string, any>[]
  t.equal((await q('streaming=true')).length, 1)
  t.equal((await q('statusClass=5xx')).length, 1)
  t.equal((await q('statusClass=2xx&model=mock-echo')).length, 2)
  t.equal((await q('q=test%20key')).length, 3, 'free text matches the key name')
  t.equal((await q(`q=${plain._request_id}`)).length, 1, 'free text matches the request id')
  t.equal((await q('model=nope')).length, 0)
  const bad = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/requests?statusClass=9xx`, headers: bearer(gw.apiKey) })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().error.message, /statusClass/)

  // Cursor pagination over more requests, newest first, no repeats.
  for (let i = 0; i < 5; i++) await openai.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: `n${i}` }] })
  await requestLogHolds(a, 8)
  const ids: string[] = []
  let cursor: string | null = null
  do {
    const page: { json(): any } = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/requests?limit=3${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(gw.apiKey) })
    const body: { data: { requestId: string }[]; nextCursor: string | null } = page.json()
    ids.push(...body.data.map((r: { requestId: string }) => r.requestId))
    cursor = body.nextCursor
  } while (cursor)
  t.equal(ids.length, 8)
  t.equal(new Set(ids).size, 8, 'every request once')

  // Exactly once: draining again copies nothing twice.
  await audit.flush()
  await audit.flush()
  const [{ c }] = await em().execute<{ c: number }[]>('select count(*)::int as c from audit_request_log', [], 'all')
  t.equal(c, 8)
})

t.test('retention retain: full bodies stored and metered; the worker nullifies them after the window, metadata stays', async (t) => {
  const metered: { organizationId: string; tokens: number; requests: number }[] = []
  const a = await auditGateway(t, { plugins: [retentionMeter(metered)] })
  const { gw, audit, em } = a
  const org = gw.organizationId
  const put = await gw.app.inject({ method: 'PUT', url: `/audit/organizations/${org}/retention`, headers: { ...bearer(gw.apiKey), 'user-agent': 'admin-console' }, payload: { mode: 'retain' } })
  t.equal(put.statusCode, 200, put.body)
  t.same(put.json(), { organizationId: org, mode: 'retain', windowDays: 30, custom: true })
  const change = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${org}/entries?action=settings.retention_changed`, headers: bearer(gw.apiKey) })
  t.match(change.json().data[0], { resourceType: 'settings', userAgent: 'admin-console', diff: { before: { mode: 'none' }, after: { mode: 'retain' } } }, 'the policy change is in the trail')
  const badPut = await gw.app.inject({ method: 'PUT', url: `/audit/organizations/${org}/retention`, headers: bearer(gw.apiKey), payload: { mode: 'forever' } })
  t.equal(badPut.statusCode, 400)
  t.match(badPut.json().error, { code: 'TOLLGATE_ERR_REQUEST_INVALID_BODY', field: 'mode' })

  const url = await gw.listen({ port: 0 })
  const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
  const plain = await openai.chat.completions.create({ model: 'mock-echo', temperature: 0.2, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'keep this prompt' }] })
  const stream = await openai.chat.completions.create({ model: 'mock-echo', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream and keep' }] })
  let streamedText = ''
  for await (const chunk of stream) {
    streamedText += chunk.choices[0]?.delta?.content ?? ''
  }
  // onComplete runs after the client has the whole answer: wait (bounded) until it has queued both bodies.
  await requestLogHolds(a, 2)
  for (let i = 0; i < 100; i++) {
    await audit.flush()
    const [{ n }] = await em().execute<{ n: number }[]>('select count(*)::int as n from audit_request_body', [], 'all')
    if (n >= 2) break
    await new Promise((r) => setTimeout(r, 20))
  }

  const detail = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${org}/requests/${plain._request_id}`, headers: bearer(gw.apiKey) })
  const body = detail.json().body
  t.match(body.request, { model: 'mock-echo', temperature: 0.2, messages: [{ role: 'system' }, { role: 'user' }] }, 'the request with its parameters')
  t.ok(JSON.stringify(body.request).includes('keep this prompt'), 'the prompt')
  t.equal(body.response.choices[0].message.content[0].text, plain.choices[0].message.content, 'the completion')
  const rows = await em().execute<{ request_id: string; response: any; stored_tokens: number }[]>('select request_id, response, stored_tokens from audit_request_body order by captured_at', [], 'all')
  t.equal(rows.length, 2, 'both requests stored')
  const streamed = rows.find((r) => r.request_id !== plain._request_id)
  const streamedResponse = typeof streamed?.response === 'string' ? JSON.parse(streamed.response) : streamed?.response
  t.equal(streamedResponse.choices[0].text, streamedText, 'the streamed answer assembled from its chunks')
  const storedTokens = rows.reduce((a, r) => a + Number(r.stored_tokens), 0)
  t.ok(storedTokens > 0)
  t.same(metered.reduce((a, m) => a + m.tokens, 0), storedTokens, 'billing\'s meter saw exactly the stored tokens')
  t.same(metered.reduce((a, m) => a + m.requests, 0), 2)
  t.ok(metered.every((m) => m.organizationId === org))

  // Past the window: verbose data nullified, metadata and analytics kept; a recent body stays.
  await em().execute("update audit_request_body set captured_at = now() - interval '31 days' where request_id = ?", [plain._request_id], 'run')
  await em().execute("update audit_request_body set captured_at = now() - interval '10 days' where request_id <> ?", [plain._request_id], 'run')
  await gw.workers.runOnce('audit.retention')
  const after = await em().execute<{ request_id: string; request: unknown; response: unknown; nullified_at: unknown; stored_tokens: number }[]>('select request_id, request, response, nullified_at, stored_tokens from audit_request_body', [], 'all')
  const old = after.find((r) => r.request_id === plain._request_id)
  t.match(old, { request: null, response: null }, 'the old body is nullified')
  t.not(old?.nullified_at, null)
  t.ok(Number(old?.stored_tokens) > 0, 'its token count stays')
  const recent = after.find((r) => r.request_id !== plain._request_id)
  t.not(recent?.request, null, 'a body inside the window stays')
  const meta = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${org}/requests/${plain._request_id}`, headers: bearer(gw.apiKey) })
  t.match(meta.json(), { requestId: plain._request_id, model: 'mock-echo', status: 200, body: { request: null, response: null } }, 'metadata remains in the request log')
  const [{ n }] = await em().execute<{ n: number }[]>('select count(*)::int as n from core_usage_event where organization_id = ?', [org], 'all')
  t.equal(n, 2, 'usage events (analytics) untouched')

  // A shorter window of the organization's own applies.
  const shorter = await gw.app.inject({ method: 'PUT', url: `/audit/organizations/${org}/retention`, headers: bearer(gw.apiKey), payload: { mode: 'none', windowDays: 7 } })
  t.equal(shorter.statusCode, 200)
  await gw.workers.runOnce('audit.retention')
  const [{ live }] = await em().execute<{ live: number }[]>('select count(*)::int as live from audit_request_body where nullified_at is null', [], 'all')
  t.equal(live, 0, 'with a 7-day window the 10-day-old body goes too')

  // Mode none: new requests store nothing.
  await openai.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'not kept' }] })
  await requestLogHolds(a, 3)
  const [{ total }] = await em().execute<{ total: number }[]>('select count(*)::int as total from audit_request_body', [], 'all')
  t.equal(total, 2, 'no body for a request made under retention none')
})
