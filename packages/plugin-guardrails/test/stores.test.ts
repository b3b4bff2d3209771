import t from 'tap'
import pino from 'pino'
import { createTestGateway } from '@tollgate/core/testing'
import { PolicyStore } from '../src/store/policy-store.ts'
import { newViolations, noteFindings, ViolationWriter } from '../src/store/violation-recorder.ts'
import { guardrailsPlugin } from '../src/index.ts'

/** The stores against the real database: instances converge on policies; violations are batched and flushed at close. */
const gw = await createTestGateway({ plugins: [guardrailsPlugin({ policyRefreshMs: 0 })] })
t.teardown(() => gw.close())

t.test('a policy written by one instance is seen by another after its reload', async (t) => {
  const deps = { db: gw.db, events: gw.events, options: {}, extensions: () => [] }
  const a = new PolicyStore(deps)
  const b = new PolicyStore(deps)
  await b.reload()
  t.equal(b.rulesFor(gw.organizationId, gw.projectId), b.defaultRules, 'no override yet: the shared default rule set')
  await a.put({ organizationId: gw.organizationId }, { rules: { 'pii.email': { action: 'block' } } }, {})
  t.equal(b.get({ organizationId: gw.organizationId }), undefined, 'not before the reload')
  await b.reload()
  t.equal(b.get({ organizationId: gw.organizationId })?.version, 1)
  const rules = b.rulesFor(gw.organizationId, gw.projectId)
  t.not(rules, b.defaultRules)
  t.equal(rules.scan('mail ada@example.org', 'input')[0]?.action, 'block')
  t.equal(b.rulesFor(gw.organizationId, gw.projectId), rules, 'compiled once per version')
  await a.put({ organizationId: gw.organizationId }, { rules: { 'pii.email': { action: 'warn' } } }, {})
  await b.reload()
  t.equal(b.rulesFor(gw.organizationId, gw.projectId).scan('mail ada@example.org', 'input')[0]?.action, 'warn', 'a new version recompiles')
  await a.put({ organizationId: gw.organizationId }, undefined, {})
})

t.test('violations are written in batches, and what is queued is flushed at close', async (t) => {
  const emitted: string[] = []
  const off = gw.events.on('guardrails.violation', (p, meta) => {
    if (!meta.em) throw new Error('no transaction')
    emitted.push(p.requestId)
  })
  t.teardown(off)
  const writer = new ViolationWriter({ db: gw.db, events: gw.events, log: pino({ level: 'silent' }), intervalMs: 60_000 })
  const counter = { inc: () => undefined }
  for (let i = 0; i < 3; i++) {
    const v = newViolations()
    noteFindings(v, [{ ruleId: 'pii.email', category: 'pii', action: 'redact', placeholder: '[EMAIL]', start: 0, end: 3 }, { ruleId: 'pii.email', category: 'pii', action: 'redact', placeholder: '[EMAIL]', start: 5, end: 9 }], 'input', counter)
    writer.add({ requestId: `req-batch-${i}`, organizationId: gw.organizationId, projectId: gw.projectId }, v)
  }
  const count = async () => (await gw.db.orm.em.fork().execute<{ n: string | number }[]>("select count(*) as n from guardrails_violation where request_id like 'req-batch-%'", [], 'all'))[0].n
  t.equal(Number(await count()), 0, 'nothing written per request')
  await writer.close()
  t.equal(Number(await count()), 3, 'flushed at close')
  t.same(emitted.sort(), ['req-batch-0', 'req-batch-1', 'req-batch-2'])
  const rows = await gw.db.orm.em.fork().execute<{ count: number }[]>("select count from guardrails_violation where request_id = 'req-batch-0'", [], 'all')
  t.equal(rows[0].count, 2, 'matches of one rule in one request are one row with a count')
})
