import t from 'tap'
import { formatUsd } from '@tollgate/core'
import { api, assertLedgerInvariant, billingGateway, boundTokens, buyCredits, chat, maxCostFor, MODEL, settleAll, startFakeOpenAI } from './budgets-support.ts'

t.test('per-project, per-API-key and per-member caps; a member cap beats the default; limits change at once', async (t) => {
  let bounds: { input: number; output: number } | undefined
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  fake.setScript(() => ({ text: 'ok', usage: { promptTokens: bounds!.input, completionTokens: bounds!.output } }))
  const gw = await billingGateway(fake, { requirePrepaidBalance: false })
  t.teardown(() => gw.close())
  bounds = boundTokens(gw, 'q', 50)
  const m = maxCostFor(gw, 'q', 50)
  const base = `/billing/organizations/${gw.organizationId}/budgets`
  const ask = (key: string) => chat(gw.url, key, { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'q' }] })
  const serveUntilRefused = async (key: string, limit = 20) => {
    let served = 0
    for (let i = 0; i < limit; i++) {
      const r = await ask(key)
      if (r.status !== 200) return { served, refusal: r }
      served++
    }
    return { served, refusal: undefined }
  }

  // Postpaid organization (no prepaid requirement): only budgets limit it, and the balance goes negative.
  const dev = await gw.identity.createUser({ email: `dev-${Date.now()}@example.test` })
  await gw.identity.addMember({ organizationId: gw.organizationId, userId: dev.id, role: 'developer', projectIds: [gw.projectId] })
  const devKey = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: dev.id, name: 'dev' })
  const other = await gw.identity.createProject({ organizationId: gw.organizationId, name: 'other' })
  const otherKey = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: other.id, ownerUserId: gw.userId, name: 'other' })

  t.equal((await api(gw.url, gw.apiKey, 'POST', base, { scope: 'default_member', period: 'day', limitUsd: formatUsd(m) })).status, 201)
  const memberCap = await api(gw.url, gw.apiKey, 'POST', base, { scope: 'member', subjectId: dev.id, period: 'day', limitUsd: formatUsd(m * 4n) })
  t.equal(memberCap.status, 201)
  const devRun = await serveUntilRefused(devKey.secret)
  t.equal(devRun.served, 4, "the member's own cap (4) replaces the default developer limit (1)")
  t.match(devRun.refusal?.json.error.message, /the member's daily budget/)

  const projectCap = await api(gw.url, gw.apiKey, 'POST', base, { scope: 'project', subjectId: other.id, period: 'week', limitUsd: formatUsd(m * 2n) })
  t.equal(projectCap.status, 201)
  const projRun = await serveUntilRefused(otherKey.secret)
  t.equal(projRun.served, 2, 'the project cap holds')
  t.match(projRun.refusal?.json.error.message, /the project's weekly budget/)
  t.equal(projRun.refusal?.headers['x-tollgate-budget'], `project:${projectCap.json.id}`)

  const keyCap = await api(gw.url, gw.apiKey, 'POST', base, { scope: 'api_key', subjectId: (await gw.identity.listApiKeys(gw.organizationId, { ownerUserId: gw.userId, projectId: gw.projectId }))[0].id, period: 'month', limitUsd: formatUsd(m * 3n) })
  t.equal(keyCap.status, 201)
  const keyRun = await serveUntilRefused(gw.apiKey)
  t.equal(keyRun.served, 3, 'the API key cap holds')
  t.match(keyRun.refusal?.json.error.message, /the API key's monthly budget/)

  // Raising the limit takes effect at once on this instance.
  const raised = await api(gw.url, gw.apiKey, 'PATCH', `${base}/${keyCap.json.id}`, { limitUsd: formatUsd(m * 5n) })
  t.equal(raised.status, 200)
  t.equal((await serveUntilRefused(gw.apiKey)).served, 2, 'two more after raising 3 → 5')
  t.equal((await api(gw.url, gw.apiKey, 'DELETE', `${base}/${keyCap.json.id}`)).status, 204)
  t.equal((await ask(gw.apiKey)).status, 200, 'a removed budget no longer applies')

  // Bad input and access.
  const dup = await api(gw.url, gw.apiKey, 'POST', base, { scope: 'project', subjectId: other.id, period: 'week', limitUsd: '1' })
  t.equal(dup.status, 409)
  t.equal(dup.json.error.code, 'TOLLGATE_ERR_BILLING_BUDGET_CONFLICT')
  const stranger = await api(gw.url, gw.apiKey, 'POST', base, { scope: 'member', subjectId: '00000000-0000-4000-8000-000000000000', period: 'day', limitUsd: '1' })
  t.equal(stranger.status, 400)
  t.equal(stranger.json.error.param ?? stranger.json.error.field, 'subjectId')
  const zero = await api(gw.url, gw.apiKey, 'POST', base, { scope: 'organization', period: 'day', limitUsd: '0' })
  t.equal(zero.status, 400)
  const badPeriod = await api(gw.url, gw.apiKey, 'POST', base, { scope: 'organization', period: 'year', limitUsd: '1' })
  t.equal(badPeriod.status, 400)
  t.match(badPeriod.json.error.message, /period/)
  t.equal((await api(gw.url, devKey.secret, 'POST', base, { scope: 'organization', period: 'day', limitUsd: '1' })).status, 403, 'a developer may not set budgets')
  const otherOrgUser = await gw.identity.createUser({ email: `x-${Date.now()}@example.test` })
  const otherOrg = await gw.identity.createOrganization({ name: 'Other', ownerUserId: otherOrgUser.id })
  t.equal((await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${otherOrg.id}/budgets`)).status, 404, "another organization's budgets do not exist for this key")

  await settleAll(gw)
  await assertLedgerInvariant(t, gw)
})

t.test('prepaid balance and a personal developer-plan account', async (t) => {
  let bounds: { input: number; output: number } | undefined
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  fake.setScript(() => ({ text: 'ok', usage: { promptTokens: bounds!.input, completionTokens: bounds!.output } }))
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  bounds = boundTokens(gw, 'q', 50)
  const m = maxCostFor(gw, 'q', 50)
  const first = await chat(gw.url, gw.apiKey, { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'q' }] })
  t.equal(first.status, 402, 'no credits, no request')
  t.equal(first.json.error.code, 'TOLLGATE_ERR_BILLING_INSUFFICIENT_BALANCE')
  t.equal(fake.requests.length, 0)

  // A personal account (a developer plan's credits) pays for its member's requests.
  const { billingLedgerRef } = await import('@tollgate/plugin-billing-stripe')
  const ledger = gw.services.get(billingLedgerRef)
  await ledger.post({ account: { organizationId: gw.organizationId, userId: gw.userId }, type: 'promotion', amount: m * 2n, idempotencyKey: 'dev-plan-credits' })
  t.equal((await chat(gw.url, gw.apiKey, { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'q' }] })).status, 200)
  t.equal((await chat(gw.url, gw.apiKey, { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'q' }] })).status, 200)
  const third = await chat(gw.url, gw.apiKey, { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'q' }] })
  t.equal(third.status, 402)
  t.match(third.json.error.message, /your personal credit balance/)
  await settleAll(gw)
  t.equal(await ledger.balance({ organizationId: gw.organizationId, userId: gw.userId }), 0n, 'the personal account paid for both')
  t.equal(await ledger.balance({ organizationId: gw.organizationId }), 0n, 'the organization account paid nothing')
  await buyCredits(gw, gw.organizationId, m)
  await assertLedgerInvariant(t, gw)
})
