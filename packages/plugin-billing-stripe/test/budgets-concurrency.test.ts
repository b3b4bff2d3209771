import t from 'tap'
import { billingControlRef, billingLedgerRef } from '@tollgate/plugin-billing-stripe'
import {
  assertLedgerInvariant,
  billingGateway,
  boundTokens,
  chat,
  extraInstance,
  ledgerSum,
  maxCostFor,
  MODEL,
  settleAll,
  startFakeOpenAI,
} from './budgets-support.ts'

const PROMPT = 'Summarise the quarterly report in three bullet points.'
const MAX_TOKENS = 200

/** The fake upstream bills every request at exactly its maximum cost: input at the bound, output at max_tokens. */
async function maxCostUpstream(gwForBounds?: () => { input: number; output: number }) {
  const fake = await startFakeOpenAI()
  fake.setScript(() => {
    const b = gwForBounds!()
    return { text: 'ok', usage: { promptTokens: b.input, completionTokens: b.output } }
  })
  return fake
}

t.test('1,000 concurrent requests against a balance that affords 100 at maximum cost: one instance', async (t) => {
  let bounds: { input: number; output: number } | undefined
  const fake = await maxCostUpstream(() => bounds!)
  t.teardown(() => fake.close())
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  bounds = boundTokens(gw, PROMPT, MAX_TOKENS)
  const max = maxCostFor(gw, PROMPT, MAX_TOKENS)
  await gw.services.get(billingLedgerRef).post({ account: { organizationId: gw.organizationId }, type: 'purchase', amount: max * 100n, idempotencyKey: 'pi_100' })

  const results = await Promise.all(
    Array.from({ length: 1000 }, () => chat(gw.url, gw.apiKey, { model: MODEL, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: PROMPT }] })),
  )
  const ok = results.filter((r) => r.status === 200).length
  const refused = results.filter((r) => r.status === 402)
  t.ok(ok <= 100, `at most 100 succeed (${ok})`)
  t.equal(ok, 100, 'with one instance every affordable request is served')
  t.equal(refused.length, 1000 - ok, 'every other request is refused with 402')
  t.equal(refused[0].json.error.code, 'TOLLGATE_ERR_BILLING_INSUFFICIENT_BALANCE')
  t.match(refused[0].json.error.message, /credit balance/, 'the error names the balance')
  t.equal(fake.requests.length, ok, 'refused requests never reached the provider')

  await settleAll(gw)
  const balance = await gw.services.get(billingLedgerRef).balance({ organizationId: gw.organizationId })
  t.ok(balance >= 0n, `final balance is never negative (${balance})`)
  t.equal(balance, max * 100n - max * BigInt(ok), 'exactly the served requests were debited')
  t.equal(await ledgerSum(gw, gw.organizationId), balance, 'ledger sum equals the balance')
  const leases = gw.services.get(billingControlRef).leases()
  t.ok(leases.every((l) => l.reservations === 0), 'no reservation is left in flight')
  await assertLedgerInvariant(t, gw)
})

const needsPg = process.env.DATABASE_URL ? false : 'needs DATABASE_URL (three instances share one PostgreSQL)'

t.test('1,000 concurrent requests against a balance that affords 100 at maximum cost: three instances sharing one PostgreSQL', { skip: needsPg }, async (t) => {
  let bounds: { input: number; output: number } | undefined
  const fake = await maxCostUpstream(() => bounds!)
  t.teardown(() => fake.close())
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  const b = await extraInstance(gw.testDb, fake)
  t.teardown(() => b.close())
  const c = await extraInstance(gw.testDb, fake)
  t.teardown(() => c.close())
  bounds = boundTokens(gw, PROMPT, MAX_TOKENS)
  const max = maxCostFor(gw, PROMPT, MAX_TOKENS)
  await gw.services.get(billingLedgerRef).post({ account: { organizationId: gw.organizationId }, type: 'purchase', amount: max * 100n, idempotencyKey: 'pi_100' })

  const urls = [gw.url, b.url, c.url]
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => chat(urls[i % 3], gw.apiKey, { model: MODEL, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: PROMPT }] })),
  )
  const ok = results.filter((r) => r.status === 200).length
  t.ok(ok <= 100, `at most 100 succeed across the three instances (${ok})`)
  t.ok(ok >= 90, `leases do not strand much of the balance (${ok} served)`)
  t.ok(results.every((r) => r.status === 200 || r.status === 402), 'every other request is refused with 402')
  t.equal(fake.requests.length, ok, 'refused requests never reached the provider')

  await settleAll(gw, b, c)
  const balance = await gw.services.get(billingLedgerRef).balance({ organizationId: gw.organizationId })
  t.ok(balance >= 0n, `final balance is never negative (${balance})`)
  t.equal(balance, max * 100n - max * BigInt(ok), 'exactly the served requests were debited')
  t.equal(await ledgerSum(gw, gw.organizationId), balance, 'ledger sum equals the balance')
  await assertLedgerInvariant(t, gw)
})
