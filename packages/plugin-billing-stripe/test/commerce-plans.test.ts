import t from 'tap'
import { CoreServices } from '@tollgate/core'
import { assertLedgerInvariant, commerceGateway, memberKey, platformAdminKey, shuffle } from './support/commerce-gateway.ts'

const USD = 1_000_000_000_000n

const PLAN_CONFIG = {
  plans: {
    free: { limits: { seats: 2, requestsPerMonth: 2 } },
    pro: { prices: { month: { amountUsd: '49', stripePriceId: 'price_pro_month' }, year: { amountUsd: '490', stripePriceId: 'price_pro_year' } } },
  },
  developerPlans: { lite: { monthlyCreditsUsd: '10', prices: { month: { amountUsd: '10', stripePriceId: 'price_lite_month' } } } },
  planLimitCacheMs: 0,
}

t.test('Pro through Stripe Subscriptions, monthly then yearly; Enterprise only by a platform administrator', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t, PLAN_CONFIG)
  const org = gw.organizationId
  const plans = await call('GET', '/billing/plans')
  t.same(plans.json.plans.map((p: { id: string }) => p.id), ['free', 'pro', 'enterprise'])
  t.same(plans.json.developerPlans.map((p: { id: string }) => p.id), ['lite', 'pro', 'max'])
  t.equal((await call('GET', `/billing/organizations/${org}/plan`)).json.plan.id, 'free')

  const started = await call('POST', `/billing/organizations/${org}/subscription`, { plan: 'pro', interval: 'month' })
  t.equal(started.status, 201, JSON.stringify(started.json))
  t.equal(started.json.mode, 'checkout')
  const sent = stripe.requests.filter((r) => r.path === '/v1/checkout/sessions').at(-1)!
  t.equal(sent.body.mode, 'subscription')
  t.equal(sent.body.line_items[0].price, 'price_pro_month')
  const events = stripe.completeCheckout(started.json.sessionId)
  for (const e of shuffle([...events, ...events], 11)) t.equal((await deliver(e)).status, 200)
  let plan = await call('GET', `/billing/organizations/${org}/plan`)
  t.equal(plan.json.plan.id, 'pro')
  t.equal(plan.json.source, 'subscription')
  t.equal(plan.json.subscription.interval, 'month')

  const yearly = await call('POST', `/billing/organizations/${org}/subscription`, { plan: 'pro', interval: 'year' })
  t.equal(yearly.json.mode, 'updated')
  t.equal(yearly.json.subscription.interval, 'year')
  t.equal(stripe.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/subscriptions/')).at(-1)!.body.items[0].price, 'price_pro_year')

  const enterprise = await call('POST', `/billing/organizations/${org}/subscription`, { plan: 'enterprise', interval: 'year' })
  t.equal(enterprise.status, 403)
  t.equal(enterprise.json.error.code, 'TOLLGATE_ERR_PLAN_CHANGE_FORBIDDEN')
  const request = await call('POST', `/billing/organizations/${org}/plan-requests`, { plan: 'enterprise', note: 'We need Net-30 invoicing' })
  t.equal(request.status, 201)
  const admin = await platformAdminKey(gw)
  t.equal((await call('GET', '/billing/admin/plan-requests')).status, 403)
  const open = await call('GET', '/billing/admin/plan-requests', undefined, admin.key)
  t.equal(open.json.requests[0].plan, 'enterprise')
  const assigned = await call('PUT', `/billing/admin/organizations/${org}/plan`, { plan: 'enterprise', netDays: 30, requestId: request.json.id }, admin.key)
  t.equal(assigned.status, 200, JSON.stringify(assigned.json))
  plan = await call('GET', `/billing/organizations/${org}/plan`)
  t.equal(plan.json.plan.id, 'enterprise')
  t.equal(plan.json.netDays, 30)
  t.equal((await call('GET', '/billing/admin/plan-requests', undefined, admin.key)).json.requests[0].status, 'approved')
  t.equal((await call('PATCH', `/billing/admin/plan-requests/${request.json.id}`, { status: 'rejected' }, admin.key)).status, 404, 'a decided request cannot be decided again')

  const cancelled = await call('DELETE', `/billing/organizations/${org}/subscription`)
  t.equal(cancelled.json.subscription.cancelAtPeriodEnd, true)
  // Stripe ends the subscription; the event snapshot is stale but the handler reads Stripe's current state.
  const sub = [...stripe.subscriptions.values()][0]
  stripe.cancelSubscription(sub)
  const ended = stripe.events.filter((e) => e.type.startsWith('customer.subscription.'))
  for (const e of shuffle(ended, 5)) await deliver(e)
  t.equal((await call('PUT', `/billing/admin/organizations/${org}/plan`, { plan: null }, admin.key)).status, 200)
  t.equal((await call('GET', `/billing/organizations/${org}/plan`)).json.plan.id, 'free', 'no live subscription and no assignment: back to Free')
  await assertLedgerInvariant(t, ledger)
})

t.test('a developer plan grants its monthly credits to the member’s personal account, once per month', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t, PLAN_CONFIG)
  const org = gw.organizationId
  const personal = { organizationId: org, userId: gw.userId }
  const started = await call('POST', `/billing/organizations/${org}/developer-plan`, { plan: 'lite', interval: 'month' })
  t.equal(started.status, 201, JSON.stringify(started.json))
  const events = stripe.completeCheckout(started.json.sessionId)
  await Promise.all([...events, ...events, ...events].map((e) => deliver(e)))
  t.equal(await ledger.balance(personal), 10n * USD, 'one month of Lite credits')
  t.equal(await ledger.balance({ organizationId: org }), 0n, 'nothing on the organization account')
  const sub = [...stripe.subscriptions.values()][0]
  const renewal = stripe.renewSubscription(sub.id)
  for (const e of [...renewal, ...renewal]) await deliver(e)
  const months = new Set([new Date().toISOString().slice(0, 7), new Date(sub.items.data[0].current_period_start * 1000).toISOString().slice(0, 7)])
  t.equal(await ledger.balance(personal), 10n * USD * BigInt(months.size), 'one grant per calendar month, however many events')
  const view = await call('GET', `/billing/organizations/${org}/developer-plan`)
  t.equal(view.json.subscription.plan, 'lite')
  t.equal((await call('POST', `/billing/organizations/${org}/developer-plan`, { plan: 'mega', interval: 'month' })).json.error.field, 'plan')
  await assertLedgerInvariant(t, ledger)
})

t.test('development mode subscribes at once and grants developer credits', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t, { devMode: true }, { withStripe: false })
  const res = await call('POST', `/billing/organizations/${gw.organizationId}/developer-plan`, { plan: 'max', interval: 'year' })
  t.equal(res.json.mode, 'development')
  t.equal(await ledger.balance({ organizationId: gw.organizationId, userId: gw.userId }), 200n * USD)
  const pro = await call('POST', `/billing/organizations/${gw.organizationId}/subscription`, { plan: 'pro', interval: 'month' })
  t.equal(pro.json.subscription.plan, 'pro')
  t.equal((await call('GET', `/billing/organizations/${gw.organizationId}/usage-limits`)).json.plan.id, 'pro')
  await assertLedgerInvariant(t, ledger)
})

t.test('plan limits: seats on invite and join, monthly requests before the upstream, usage against limits', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t, { ...PLAN_CONFIG, devMode: true }, { withStripe: false })
  const org = gw.organizationId
  // Credits, so a prepaid-balance check (if any) lets requests through to the plan check.
  await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' })

  const first = await call('POST', `/v1/organizations/${org}/invitations`, { email: 'second@example.test', role: 'member' })
  t.equal(first.status, 201, JSON.stringify(first.json))
  const second = await call('POST', `/v1/organizations/${org}/invitations`, { email: 'third@example.test', role: 'member' })
  t.equal(second.status, 409, 'owner + one pending invitation fill the 2 seats')
  t.equal(second.json.error.code, 'TOLLGATE_ERR_PLAN_SEATS_EXHAUSTED')
  t.equal((await call('GET', `/v1/organizations/${org}/invitations`)).json.data.length, 1, 'the refused invitation was rolled back')
  const outsider = await gw.identity.createUser({ email: 'direct@example.test' })
  await t.rejects(gw.identity.addMember({ organizationId: org, userId: outsider.id, role: 'member' }), { code: 'TOLLGATE_ERR_PLAN_SEATS_EXHAUSTED' }, 'adding a member directly is refused too when members fill the seats')

  const chat = () => gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, payload: { model: 'mock-echo', messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 } })
  t.equal((await chat()).statusCode, 200)
  t.equal((await chat()).statusCode, 200)
  const refused = await chat()
  t.equal(refused.statusCode, 429, refused.body)
  t.equal(refused.json().error.code, 'TOLLGATE_ERR_PLAN_LIMIT_EXCEEDED')
  t.match(refused.json().error.message, /2 requests/)
  t.ok(Number(refused.headers['retry-after']) > 0)

  let metrics: any
  // The rollup reads only events older than every running transaction on the server: allow for a busy one.
  for (let i = 0; i < 600; i++) {
    metrics = (await call('GET', `/billing/organizations/${org}/usage-limits`)).json
    if (metrics.api_requests.used >= 2) break
    await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(metrics.period, new Date().toISOString().slice(0, 7))
  t.same(Object.keys(metrics).slice(0, 5), ['period', 'llm_tokens', 'queries', 'storage_gb', 'api_requests'])
  t.same(metrics.api_requests, { used: 2, limit: 2, percentage: 100 })
  t.ok(metrics.llm_tokens.used > 0)
  t.equal(metrics.llm_tokens.limit, 500000)
  t.same(metrics.seats, { used: 2, limit: 2, percentage: 100 })
  t.equal((await call('GET', `/billing/organizations/${org}/usage-limits`, undefined, (await memberKeyOrSkip()).key)).status, 403)
  await assertLedgerInvariant(t, ledger)

  async function memberKeyOrSkip() {
    // The seats are full, so lift the limit to add a plain member for the permission check.
    const admin = await platformAdminKey(gw)
    await call('PUT', `/billing/admin/organizations/${org}/plan`, { plan: 'enterprise' }, admin.key)
    return memberKey(gw, 'member')
  }
})

t.test('plan limits: a plan changed on another instance is seen within planLimitCacheMs, for every organization in use', async (t) => {
  const { gw, call } = await commerceGateway(t, { ...PLAN_CONFIG, devMode: true, planLimitCacheMs: 300 }, { withStripe: false })
  const owners = [{ org: gw.organizationId, key: gw.apiKey }]
  for (let i = 0; i < 2; i++) {
    const user = await gw.identity.createUser({ email: `plan-refresh-${i}-${Date.now()}@example.test` })
    const key = await gw.identity.createApiKey({ organizationId: user.personalOrganizationId, projectId: user.defaultProjectId, ownerUserId: user.id, name: 'plan refresh' })
    owners.push({ org: user.personalOrganizationId, key: key.secret })
  }
  const chat = (key: string) => gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: { model: 'mock-echo', messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 } })
  for (const o of owners) {
    const bought = await call('POST', `/billing/organizations/${o.org}/checkout`, { packageId: 'starter' }, o.key)
    t.ok(bought.status < 300, `credits granted in development mode (${bought.status})`)
    t.equal((await chat(o.key)).statusCode, 200)
    t.equal((await chat(o.key)).statusCode, 200)
    t.equal((await chat(o.key)).json().error?.code, 'TOLLGATE_ERR_PLAN_LIMIT_EXCEEDED', 'the free plan allows 2 requests a month')
  }
  // Another instance assigns Enterprise to all three: this one hears nothing, its background re-read finds it.
  const em = gw.services.get(CoreServices.database).orm.em.fork()
  for (const o of owners) await em.execute("insert into billing_org_plan (organization_id, plan) values (?, 'enterprise')", [o.org], 'run')
  const served = new Set<string>()
  for (let i = 0; i < 100 && served.size < owners.length; i++) {
    for (const o of owners) if (!served.has(o.org) && (await chat(o.key)).statusCode === 200) served.add(o.org)
    await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(served.size, owners.length, 'every organization is served again under its new plan, with no restart and no notice')
})
