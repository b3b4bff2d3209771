import t from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import type { EventMeta } from '@tollgate/core'
import type { GuardrailViolationEvent, PolicyScope } from '../src/index.ts'
import { startGuardedGateway } from './support/gateway.ts'

/**
 * Block, warn and redact end to end through the gateway with the real SDKs: policies set
 * through the management API (with authorization and events), violations in the table, the
 * event and the metric, and nothing of the matched content stored anywhere.
 */
const g = await startGuardedGateway({ policyRefreshMs: 0 })
t.teardown(() => g.close())
const { gw } = g
const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${g.url}/v1`, maxRetries: 0 })
const anthropic = new Anthropic({ apiKey: gw.apiKey, baseURL: g.url, maxRetries: 0 })
const auth = { authorization: `Bearer ${gw.apiKey}` }

const policyEvents: { payload: PolicyScope & { before?: unknown; after?: unknown }; meta: EventMeta }[] = []
gw.events.on('guardrails.policyChanged', (payload, meta) => void policyEvents.push({ payload, meta }), { transactional: true })
const violations: GuardrailViolationEvent[] = []
gw.events.on('guardrails.violation', (payload, meta) => {
  if (!meta.em) throw new Error('violation event without its transaction')
  violations.push(payload)
})

const EMAIL = 'grace.hopper@navy.example.mil'
const SSN = '078-05-1123'
const TICKET = 'TCK-482913'
const DOC = 'The quarterly merger plan between Acme and Globex values the combined entity at nine billion dollars before synergies are counted.'

async function violationRows(requestId: string) {
  await waitFor(async () => (await rowsFor(requestId)).length > 0)
  return rowsFor(requestId)
}
async function rowsFor(requestId: string) {
  return gw.db.orm.em.fork().execute<Record<string, any>[]>('select * from guardrails_violation where request_id = ? order by rule', [requestId], 'all')
}
async function waitFor(check: () => Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('timed out')
}

t.test('an owner sets the organization policy; the change is an event in the same transaction', async (t) => {
  const res = await gw.app.inject({
    method: 'PUT',
    url: `/v1/guardrails/organizations/${gw.organizationId}/policy`,
    headers: auth,
    payload: {
      rules: { 'pii.email': { action: 'block' } },
      blockedTerms: { terms: ['Project Nightingale'], action: 'block' },
      customRegexes: [{ id: 'ticket', pattern: 'TCK-[0-9]{6}', action: 'redact' }],
      documents: [{ id: 'merger-plan', text: DOC }],
    },
  })
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.equal(body.version, 1)
  t.same(body.policy.rules, { 'pii.email': { action: 'block' } })
  t.notOk(JSON.stringify(body).includes('merger plan'), 'the document text is not kept, only fingerprints')
  t.ok(body.policy.documents[0].fingerprints.length > 0)
  t.equal(policyEvents.length, 1)
  t.equal(policyEvents[0].payload.organizationId, gw.organizationId)
  t.equal(policyEvents[0].payload.before, undefined)
  t.ok(policyEvents[0].meta.em, 'emitted with the transaction EntityManager')
  t.equal(policyEvents[0].meta.actor?.type, 'api_key')
  t.equal(policyEvents[0].meta.organizationId, gw.organizationId)

  const read = await gw.app.inject({ method: 'GET', url: `/v1/guardrails/organizations/${gw.organizationId}/policy`, headers: auth })
  t.equal(read.statusCode, 200)
  t.equal(read.json().effective.rules['pii.email'].action, 'block')
})

t.test('block: the request is rejected naming the rule, never the content; a violation is recorded', async (t) => {
  const err = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `mail ${EMAIL} please` }] }).catch((e) => e)
  t.ok(err instanceof OpenAI.APIError)
  t.equal(err.status, 400)
  t.match(err.message, /guardrail rule "pii\.email"/)
  t.notOk(err.message.includes(EMAIL))
  t.equal(g.fakeOpenAI.requests.length, 0, 'nothing reached the upstream')
  const requestId = err.headers?.get?.('x-request-id') ?? err.requestID
  const rows = await violationRows(requestId)
  t.same(rows.map((r) => [r.rule, r.action, r.direction, r.count]), [['pii.email', 'block', 'input', 1]])
  t.equal(rows[0].organization_id, gw.organizationId)
  t.equal(rows[0].project_id, gw.projectId)
  t.ok(rows[0].api_key_id)
  t.ok(violations.some((v) => v.requestId === requestId && v.rule === 'pii.email'), 'guardrails.violation emitted')

  const anth = await anthropic.messages.create({ model: 'claude-fake', max_tokens: 10, messages: [{ role: 'user', content: 'tell me about project  NIGHTINGALE' }] }).catch((e) => e)
  t.ok(anth instanceof Anthropic.APIError)
  t.equal(anth.status, 400)
  t.match(anth.message, /custom\.blocked_term/)
  t.equal(anth.error?.type, 'error')
})

t.test('warn: allowed unchanged, violation recorded', async (t) => {
  g.fakeOpenAI.setScript(() => ({ text: 'ok' }))
  const { response } = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'Summarise this CONFIDENTIAL memo' }] }).withResponse()
  t.equal(g.fakeOpenAI.requests.at(-1)!.body.messages[0].content, 'Summarise this CONFIDENTIAL memo')
  const rows = await violationRows(response.headers.get('x-request-id')!)
  t.same(rows.map((r) => [r.rule, r.action]), [['document.marking', 'warn']])
})

t.test('redact: typed placeholders reach the upstream, in every role and in tool results', async (t) => {
  g.fakeOpenAI.setScript(() => ({ text: 'ok' }))
  const { response } = await openai.chat.completions
    .create({
      model: 'gpt-fake',
      messages: [
        { role: 'system', content: `Ticket ${TICKET} is open.` },
        { role: 'user', content: `My SSN is ${SSN}` },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ ssn: SSN }) } }] },
        { role: 'tool', tool_call_id: 'c1', content: `record for ${SSN}: ticket ${TICKET}` },
      ],
    })
    .withResponse()
  const sent = JSON.stringify(g.fakeOpenAI.requests.at(-1)!.body)
  t.notOk(sent.includes(SSN), 'no SSN upstream')
  t.notOk(sent.includes(TICKET), 'no ticket id upstream')
  t.match(sent, /My SSN is \[US_SSN\]/)
  t.match(sent, /Ticket \[TICKET\] is open/)
  t.match(sent, /record for \[US_SSN\]: ticket \[TICKET\]/)
  t.match(sent, /\{\\"ssn\\":\\"\[US_SSN\]\\"\}/)
  const rows = await violationRows(response.headers.get('x-request-id')!)
  t.same(rows.map((r) => [r.rule, r.action, r.count]), [['custom.regex.ticket', 'redact', 2], ['pii.us_ssn', 'redact', 3]])
})

t.test('redact on the answer, non-stream and stream, including a document fingerprint block', async (t) => {
  g.fakeOpenAI.setScript(() => ({ text: `Your SSN ${SSN} is on file.` }))
  const res = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'what is on file?' }] })
  t.equal(res.choices[0].message.content, 'Your SSN [US_SSN] is on file.')

  g.fakeOpenAI.setScript(() => ({ text: `Sure. ${DOC} Anything else?`, pieces: [`Sure. ${DOC.slice(0, 40)}`, `${DOC.slice(40)} Anything else?`] }))
  const received: string[] = []
  const err = await (async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'the plan?' }], stream: true })
    for await (const c of stream) received.push(c.choices[0]?.delta?.content ?? '')
  })().catch((e) => e)
  t.ok(err instanceof OpenAI.APIError, 'the stream ends with an error event')
  t.match(String(err.message), /document\.fingerprint/)
  t.notOk(received.join('').includes('merger plan'), 'the protected text never reached the client')
})

t.test('a project override wins over the organization policy', async (t) => {
  const res = await gw.app.inject({ method: 'PUT', url: `/v1/guardrails/projects/${gw.projectId}/policy`, headers: auth, payload: { rules: { 'pii.email': { action: 'redact' } } } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().effective.rules['pii.email'].action, 'redact')
  g.fakeOpenAI.setScript(() => ({ text: 'ok' }))
  await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `mail ${EMAIL} please` }] })
  t.equal(g.fakeOpenAI.requests.at(-1)!.body.messages[0].content, 'mail [EMAIL] please')
  const reset = await gw.app.inject({ method: 'DELETE', url: `/v1/guardrails/projects/${gw.projectId}/policy`, headers: auth })
  t.equal(reset.statusCode, 200)
  t.equal(reset.json().policy, null)
  t.equal(policyEvents.at(-1)!.payload.after, undefined)
  t.same((policyEvents.at(-1)!.payload.before as { rules: unknown }).rules, { 'pii.email': { action: 'redact' } })
})

t.test('authorization: members may read but not change; other organizations see nothing', async (t) => {
  const member = await gw.identity.createUser({ email: `member-${Date.now()}@example.test` })
  await gw.identity.addMember({ organizationId: gw.organizationId, userId: member.id, role: 'member' })
  const key = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: member.id, name: 'member key' })
  const memberAuth = { authorization: `Bearer ${key.secret}` }
  t.equal((await gw.app.inject({ method: 'GET', url: `/v1/guardrails/organizations/${gw.organizationId}/policy`, headers: memberAuth })).statusCode, 200)
  const put = await gw.app.inject({ method: 'PUT', url: `/v1/guardrails/organizations/${gw.organizationId}/policy`, headers: memberAuth, payload: {} })
  t.equal(put.statusCode, 403)
  t.equal(put.json().error.code, 'TOLLGATE_ERR_AUTH_FORBIDDEN')
  t.equal((await gw.app.inject({ method: 'GET', url: `/v1/guardrails/organizations/${gw.organizationId}/violations`, headers: memberAuth })).statusCode, 403)

  const outsider = await gw.identity.createUser({ email: `outsider-${Date.now()}@example.test` })
  const org2 = await gw.identity.createOrganization({ name: 'Other', ownerUserId: outsider.id })
  const p2 = await gw.identity.createProject({ organizationId: org2.id, name: 'p' })
  const k2 = await gw.identity.createApiKey({ organizationId: org2.id, projectId: p2.id, ownerUserId: outsider.id, name: 'k' })
  const other = await gw.app.inject({ method: 'GET', url: `/v1/guardrails/organizations/${gw.organizationId}/policy`, headers: { authorization: `Bearer ${k2.secret}` } })
  t.equal(other.statusCode, 404)
  t.equal((await gw.app.inject({ method: 'GET', url: `/v1/guardrails/organizations/${gw.organizationId}/policy` })).statusCode, 401)
})

t.test('bad policies are refused with a code and the field', async (t) => {
  const url = `/v1/guardrails/organizations/${gw.organizationId}/policy`
  const unknown = await gw.app.inject({ method: 'PUT', url, headers: auth, payload: { rules: { 'pii.shoe_size': { action: 'block' } } } })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().error.code, 'TOLLGATE_ERR_GUARDRAILS_INVALID_POLICY')
  t.equal(unknown.json().error.field, 'rules.pii.shoe_size')
  const badAction = await gw.app.inject({ method: 'PUT', url, headers: auth, payload: { rules: { 'pii.email': { action: 'explode' } } } })
  t.equal(badAction.statusCode, 400)
  t.equal(badAction.json().error.code, 'TOLLGATE_ERR_REQUEST_INVALID_BODY')
  const backref = await gw.app.inject({ method: 'PUT', url, headers: auth, payload: { customRegexes: [{ id: 'rep', pattern: '(a+)\\1', action: 'block' }] } })
  t.equal(backref.statusCode, 400)
  t.equal(backref.json().error.code, 'TOLLGATE_ERR_GUARDRAILS_INVALID_PATTERN')
  t.equal(backref.json().error.field, 'customRegexes[0].pattern')
  t.equal(policyEvents.filter((e) => e.payload.organizationId === gw.organizationId).length, 3, 'refused changes emit nothing')
})

t.test('violations: listed by the API, counted in the metric, and no matched content stored anywhere', async (t) => {
  const expected = ['pii.email', 'pii.us_ssn', 'custom.regex.ticket', 'document.marking', 'custom.blocked_term', 'document.fingerprint']
  const listed = async () => {
    const list = await gw.app.inject({ method: 'GET', url: `/v1/guardrails/organizations/${gw.organizationId}/violations?limit=50`, headers: auth })
    t.equal(list.statusCode, 200)
    return list.json().data.map((v: { rule: string }) => v.rule) as string[]
  }
  // Violations are written in batches after the requests end: wait for the last batch.
  let rules: string[] = []
  await waitFor(async () => {
    rules = await listed()
    return expected.every((r) => rules.includes(r))
  }).catch(() => undefined)
  for (const r of expected) t.ok(rules.includes(r), `${r} listed`)

  const metrics = await gw.metrics.text()
  t.match(metrics, /tollgate_guardrails_violations_total\{rule="pii\.email",action="block",direction="input"\} 1/)
  t.match(metrics, /tollgate_guardrails_violations_total\{rule="custom\.regex",action="redact",direction="input"\} 2/)

  const dump = JSON.stringify([
    await gw.db.orm.em.fork().execute('select * from guardrails_violation', [], 'all'),
    await gw.db.orm.em.fork().execute('select * from guardrails_policy', [], 'all'),
  ])
  for (const secret of [EMAIL, SSN, TICKET, 'NIGHTINGALE', 'merger plan', 'CONFIDENTIAL memo']) {
    t.notOk(dump.includes(secret), `"${secret.slice(0, 12)}…" is not stored`)
  }
})
