import t from 'tap'
import { formatUsd } from '@tollgate/core'
import { billingLedgerRef } from '@tollgate/plugin-billing-stripe'
import { api, assertLedgerInvariant, billingGateway, boundTokens, buyCredits, chat, maxCostFor, MODEL, settleAll, startFakeOpenAI } from './budgets-support.ts'

const PROMPT = 'Draft a release note for the billing plugin.'
const MAX_TOKENS = 300

t.test("five brand-new members' simultaneous first requests stay within the organization's cap and each member's", async (t) => {
  let bounds: { input: number; output: number } | undefined
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  fake.setScript(() => ({ text: 'done', usage: { promptTokens: bounds!.input, completionTokens: bounds!.output } }))
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  bounds = boundTokens(gw, PROMPT, MAX_TOKENS)
  const m = maxCostFor(gw, PROMPT, MAX_TOKENS)
  await buyCredits(gw, gw.organizationId, m * 1000n)

  // The organization caps its month at 12 requests' worth; every developer gets 3 a day by default.
  const orgCap = await api(gw.url, gw.apiKey, 'POST', `/billing/organizations/${gw.organizationId}/budgets`, { scope: 'organization', period: 'month', limitUsd: formatUsd(m * 12n), name: 'company' })
  t.equal(orgCap.status, 201, 'organization budget created')
  const devCap = await api(gw.url, gw.apiKey, 'POST', `/billing/organizations/${gw.organizationId}/budgets`, { scope: 'default_member', period: 'day', limitUsd: formatUsd(m * 3n) })
  t.equal(devCap.status, 201, 'default developer limit created')
  t.same(devCap.json.appliesToRoles ?? ['developer'], ['developer'])

  const members: { userId: string; key: string }[] = []
  for (let i = 0; i < 5; i++) {
    const user = await gw.identity.createUser({ email: `dev${i}-${Date.now()}@example.test` })
    await gw.identity.addMember({ organizationId: gw.organizationId, userId: user.id, role: 'developer', projectIds: [gw.projectId] })
    const key = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: user.id, name: `dev ${i}` })
    members.push({ userId: user.id, key: key.secret })
  }

  // Each new member fires eight requests at once: 40 first requests in flight together.
  const results = await Promise.all(
    members.flatMap((member) =>
      Array.from({ length: 8 }, async () => ({ member, ...(await chat(gw.url, member.key, { model: MODEL, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: PROMPT }] })) })),
    ),
  )
  const served = results.filter((r) => r.status === 200)
  t.ok(served.length <= 12, `the organization cap holds (${served.length} ≤ 12)`)
  t.ok(served.length >= 10, `the cap is not starved by leases (${served.length} served)`)
  for (const member of members) {
    const mine = served.filter((r) => r.member === member).length
    t.ok(mine <= 3, `member ${member.userId.slice(0, 8)} served ${mine} ≤ 3`)
  }
  const refused = results.filter((r) => r.status !== 200)
  t.ok(refused.every((r) => r.status === 429 && r.json.error.code === 'TOLLGATE_ERR_BILLING_BUDGET_EXCEEDED'), 'refusals are 429 TOLLGATE_ERR_BILLING_BUDGET_EXCEEDED')
  t.ok(refused.every((r) => Number(r.headers['retry-after']) > 0), 'with Retry-After until the period resets')
  const messages = new Set(refused.map((r) => String(r.json.error.message).split(':')[0]))
  t.ok([...messages].every((msg) => /default daily limit for developer members|organization's monthly budget "company"/.test(msg)), `errors name the budget: ${[...messages].join(' | ')}`)
  t.equal(fake.requests.length, served.length, 'refused requests never reached the provider')

  await settleAll(gw)
  const listed = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/budgets`)
  const org = listed.json.budgets.find((b: any) => b.scope === 'organization')
  t.equal(org.currentPeriod.spent[0].spentUsd, formatUsd(m * BigInt(served.length)), 'the organization counter holds exactly what was served')
  const dev = listed.json.budgets.find((b: any) => b.scope === 'default_member')
  t.equal(dev.currentPeriod.spent.filter((s: any) => s.spentUsd !== '0').length, new Set(served.map((r) => r.member)).size, 'one allowance with spend per member who was served')
  for (const s of dev.currentPeriod.spent) {
    const mine = served.filter((r) => r.member.userId === s.subjectId).length
    t.equal(s.spentUsd, formatUsd(m * BigInt(mine)), `member counter matches their served requests (${mine})`)
  }
  const balance = await gw.services.get(billingLedgerRef).balance({ organizationId: gw.organizationId })
  t.equal(balance, m * 1000n - m * BigInt(served.length), 'the ledger debited exactly the served requests')
  await assertLedgerInvariant(t, gw)
})
