import t from 'tap'
import OpenAI from 'openai'
import { RuleSet, rulesFor } from '../src/index.ts'
import { ScanCache } from '../src/engine/scan-cache.ts'
import { startGuardedGateway } from './support/gateway.ts'

/**
 * The scan cache: a prompt text seen before under the same compiled policy is not scanned again,
 * gives the same findings, and a policy change (a new rule set) scans it afresh.
 */
const SSN = '078-05-1123'
const filler = 'Please summarise the meeting notes below for the weekly status report. '.repeat(5)
const longText = (n: number) => `${filler}Item ${n}: the applicant's SSN is ${SSN}.`

/** A rule set whose scans are counted. */
function counted(policy = {}) {
  const rules = new RuleSet(rulesFor(policy, [], {}), policy)
  const calls = { n: 0 }
  const scan = rules.scan.bind(rules)
  rules.scan = (...args: Parameters<RuleSet['scan']>) => {
    calls.n++
    return scan(...args)
  }
  return { rules, calls }
}

t.test('a repeated text is scanned once and gives the same findings', async (t) => {
  const cache = new ScanCache(100)
  const { rules, calls } = counted()
  const first = cache.scanInput(rules, longText(1), 'user')
  const second = cache.scanInput(rules, longText(1), 'user')
  t.equal(calls.n, 1)
  t.ok(first.some((f) => f.ruleId === 'pii.us_ssn'), 'the SSN is found')
  t.same(second, first)
  t.same(first, rules.scan(longText(1), 'input', 'user'), 'what an uncached scan finds')
})

t.test('role, text and rule set are part of the key; short texts and capacity 0 are always scanned', async (t) => {
  const cache = new ScanCache(100)
  const { rules, calls } = counted()
  cache.scanInput(rules, longText(1), 'user')
  cache.scanInput(rules, longText(1), 'system')
  cache.scanInput(rules, longText(2), 'user')
  t.equal(calls.n, 3, 'another role or another text is scanned')
  cache.scanInput(rules, `short ${SSN}`, 'user')
  cache.scanInput(rules, `short ${SSN}`, 'user')
  t.equal(calls.n, 5, 'texts under the minimum length are not cached')
  const other = counted()
  cache.scanInput(other.rules, longText(1), 'user')
  t.equal(other.calls.n, 1, 'another rule set scans the text itself')
  const off = new ScanCache(0)
  off.scanInput(rules, longText(1), 'user')
  off.scanInput(rules, longText(1), 'user')
  t.equal(calls.n, 7, 'capacity 0 disables the cache')
})

t.test('the cache is bounded: old texts are forgotten and scanned again', async (t) => {
  const cache = new ScanCache(4)
  const { rules, calls } = counted()
  for (let i = 0; i < 5; i++) cache.scanInput(rules, longText(i), 'user')
  t.equal(calls.n, 5)
  cache.scanInput(rules, longText(4), 'user')
  t.equal(calls.n, 5, 'a recent text is still remembered')
  cache.scanInput(rules, longText(0), 'user')
  t.equal(calls.n, 6, 'the oldest text was dropped')
})

t.test('regression: a prompt resent after a policy change is judged under the new policy', async (t) => {
  const g = await startGuardedGateway({ policyRefreshMs: 0 })
  t.teardown(() => g.close())
  const { gw } = g
  const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${g.url}/v1`, maxRetries: 0 })
  g.fakeOpenAI.setScript(() => ({ text: 'ok' }))
  const messages = [{ role: 'user' as const, content: longText(7) }]
  for (let i = 0; i < 2; i++) {
    await openai.chat.completions.create({ model: 'gpt-fake', messages })
    const sent = JSON.stringify(g.fakeOpenAI.requests.at(-1)!.body)
    t.notOk(sent.includes(SSN), `request ${i + 1}: no SSN upstream`)
    t.match(sent, /the applicant's SSN is \[US_SSN\]/)
  }
  const put = await gw.app.inject({
    method: 'PUT',
    url: `/v1/guardrails/organizations/${gw.organizationId}/policy`,
    headers: { authorization: `Bearer ${gw.apiKey}` },
    payload: { rules: { 'pii.us_ssn': { action: 'block' } } },
  })
  t.equal(put.statusCode, 200, put.body)
  const before = g.fakeOpenAI.requests.length
  const err = await openai.chat.completions.create({ model: 'gpt-fake', messages }).catch((e) => e)
  t.ok(err instanceof OpenAI.APIError, 'the same prompt is now rejected')
  t.match(String(err.message), /pii\.us_ssn/)
  t.equal(g.fakeOpenAI.requests.length, before, 'nothing reached the upstream')
})
