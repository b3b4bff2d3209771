import t from 'tap'
import { assertLedgerInvariant, commerceGateway, platformAdminKey } from './support/commerce-gateway.ts'

const USD = 1_000_000_000_000n

t.test('development mode grants purchased credits at once, without Stripe', async (t) => {
  const { gw, ledger, call, stripe } = await commerceGateway(t, { devMode: true }, { withStripe: false })
  const org = gw.organizationId
  const packages = await call('GET', '/billing/credit-packages')
  t.equal(packages.json.devMode, true)
  t.same(
    packages.json.packages.map((p: { id: string; totalCreditsUsd: string }) => [p.id, p.totalCreditsUsd]),
    [
      ['starter', '10'],
      ['growth', '52.5'],
      ['scale', '220'],
    ],
  )
  const bought = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'scale' })
  t.equal(bought.status, 200)
  t.equal(bought.json.mode, 'granted')
  t.equal(bought.json.reason, 'development')
  t.equal(bought.json.payment.status, 'succeeded')
  t.equal(await ledger.balance({ organizationId: org }), 220n * USD)
  t.equal(stripe.requests.length, 0, 'Stripe was never called')
  const unknown = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'nope' })
  t.equal(unknown.status, 400)
  t.equal(unknown.json.error.field, 'packageId')
  const portal = await call('POST', `/billing/organizations/${org}/portal`, {})
  t.equal(portal.status, 501, 'the portal needs Stripe')
  t.equal(portal.json.error.code, 'TOLLGATE_ERR_PAYMENT_NOT_CONFIGURED')
  await assertLedgerInvariant(t, ledger)
})

t.test('without Stripe or development mode, a checkout is refused clearly and nothing is recorded', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t, {}, { withStripe: false })
  const res = await call('POST', `/billing/organizations/${gw.organizationId}/checkout`, { packageId: 'starter' })
  t.equal(res.status, 501)
  t.match(res.json.error.message, /stripe/)
  const payments = await call('GET', `/billing/organizations/${gw.organizationId}/payments`)
  t.same(payments.json.payments, [])
  await assertLedgerInvariant(t, ledger)
})

t.test('discount codes: percent and amount, limits held by open checkouts, expiry, one redemption per organization', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t)
  const admin = await platformAdminKey(gw)
  const org = gw.organizationId
  const create = (body: unknown) => call('POST', '/billing/admin/discount-codes', body, admin.key)
  t.equal((await create({ code: 'half', kind: 'percent', percentOff: 50, maxRedemptions: 2 })).status, 201)
  t.equal((await create({ code: 'TENOFF', kind: 'amount', amountOffUsd: '10' })).status, 201)
  t.equal((await create({ code: 'HALF', kind: 'percent', percentOff: 10 })).status, 409, 'codes are case-insensitive and unique')
  const bad = await create({ code: 'BAD', kind: 'percent' })
  t.equal(bad.status, 400)
  t.match(bad.json.error.message, /percentOff/)
  t.equal((await call('POST', '/billing/admin/discount-codes', { code: 'X1X', kind: 'amount', amountOffUsd: '1' })).status, 403, 'an organization owner cannot create codes')

  const half = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'growth', discountCode: 'Half' })
  t.equal(half.status, 201)
  t.equal(half.json.amountUsd, '25', 'half of $50 is charged')
  const sent = stripe.requests.filter((r) => r.path === '/v1/checkout/sessions').at(-1)!
  t.equal(sent.body.line_items[0].price_data.unit_amount, '2500')
  const again = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter', discountCode: 'HALF' })
  t.equal(again.status, 409, 'one redemption per organization')
  t.equal(again.json.error.code, 'TOLLGATE_ERR_DISCOUNT_UNAVAILABLE')

  // Two more organizations race for the last use of HALF: exactly one gets it.
  const others = []
  for (let i = 0; i < 3; i++) {
    const u = await gw.identity.createUser({ email: `o${i}-${Math.random().toString(36).slice(2)}@example.test` })
    const o = await gw.identity.createOrganization({ name: `Other ${i}`, ownerUserId: u.id })
    const k = await gw.identity.createApiKey({ organizationId: o.id, projectId: o.defaultProjectId, ownerUserId: u.id, name: 'k' })
    others.push({ org: o.id, key: k.secret })
  }
  const raced = await Promise.all(others.map((o) => call('POST', `/billing/organizations/${o.org}/checkout`, { packageId: 'starter', discountCode: 'HALF' }, o.key)))
  t.same(raced.map((r) => r.status).sort(), [201, 409, 409], 'the limit of 2 is never oversold')
  // An abandoned checkout gives its use back.
  const winner = raced.findIndex((r) => r.status === 201)
  for (const e of stripe.expireCheckout(raced[winner].json.sessionId)) t.equal((await deliver(e)).status, 200)
  const loser = others.find((_, i) => i !== winner)!
  t.equal((await call('POST', `/billing/organizations/${loser.org}/checkout`, { packageId: 'starter', discountCode: 'HALF' }, loser.key)).status, 201, 'the released use is available again')

  // Paying redeems the held use; the paid amount is what is credited in dollars of the package.
  for (const e of stripe.completeCheckout(half.json.sessionId)) await deliver(e)
  t.equal(await ledger.balance({ organizationId: org }), 525n * USD / 10n, 'the full package credits are granted at the discounted price')
  const redemptions = await call('GET', '/billing/admin/discount-codes/HALF/redemptions', undefined, admin.key)
  t.same(redemptions.json.redemptions.map((r: { status: string }) => r.status).sort(), ['held', 'redeemed', 'released'])
  const codes = await call('GET', '/billing/admin/discount-codes', undefined, admin.key)
  t.equal(codes.json.codes.find((c: { code: string }) => c.code === 'HALF').redemptions, 2)

  // Expiry and deactivation.
  t.equal((await call('PATCH', '/billing/admin/discount-codes/TENOFF', { expiresAt: new Date(Date.now() - 1000).toISOString() }, admin.key)).status, 200)
  const expired = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter', discountCode: 'tenoff' })
  t.equal(expired.status, 409)
  t.match(expired.json.error.message, /expired/)
  // A discount that covers the whole price grants the credits without a payment.
  t.equal((await create({ code: 'FREE10', kind: 'amount', amountOffUsd: '10' })).status, 201)
  const free = await call('POST', `/billing/organizations/${others[2].org}/checkout`, { packageId: 'starter', discountCode: 'FREE10' }, others[2].key)
  t.equal(free.json.mode, 'granted')
  t.equal(free.json.reason, 'free')
  t.equal(await ledger.balance({ organizationId: others[2].org }), 10n * USD)
  await assertLedgerInvariant(t, ledger)
})

t.test('referral: the referrer is credited once, when the referred organization first buys', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t, { referrals: { rewardUsd: '15' } })
  const referrer = gw.organizationId
  const code = (await call('GET', `/billing/organizations/${referrer}/referral`)).json.code
  t.match(code, /^REF-/)
  const u = await gw.identity.createUser({ email: `new-${Math.random().toString(36).slice(2)}@example.test` })
  const o = await gw.identity.createOrganization({ name: 'Newcomer', ownerUserId: u.id })
  const k = (await gw.identity.createApiKey({ organizationId: o.id, projectId: o.defaultProjectId, ownerUserId: u.id, name: 'k' })).secret
  t.equal((await call('POST', `/billing/organizations/${referrer}/referral`, { code })).json.error.code, 'TOLLGATE_ERR_REFERRAL_INVALID', 'not your own code')
  t.equal((await call('POST', `/billing/organizations/${o.id}/referral`, { code: code.toLowerCase() }, k)).status, 201)
  t.equal((await call('POST', `/billing/organizations/${o.id}/referral`, { code }, k)).status, 409, 'only one referrer')
  for (const packageId of ['starter', 'growth']) {
    const started = await call('POST', `/billing/organizations/${o.id}/checkout`, { packageId }, k)
    const events = stripe.completeCheckout(started.json.sessionId)
    await Promise.all([...events, ...events].map((e) => deliver(e)))
  }
  t.equal(await ledger.balance({ organizationId: referrer }), 15n * USD, 'one reward for two purchases')
  const { entries } = await ledger.history({ organizationId: referrer })
  t.same(entries.map((e) => e.type), ['referral'])
  const view = await call('GET', `/billing/organizations/${referrer}/referral`)
  t.equal(view.json.earningsUsd, '15')
  t.equal(view.json.referred[0].organizationId, o.id)
  await assertLedgerInvariant(t, ledger)
})

t.test('gifts and adjustments are platform-admin only, idempotent, and audited with before/after inside the transaction', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t)
  const admin = await platformAdminKey(gw)
  const org = gw.organizationId
  const seen: { name: string; payload: any; meta: any }[] = []
  for (const name of ['billing.creditsGifted', 'billing.creditsAdjusted'] as const) {
    gw.events.on(name, (payload, meta) => void seen.push({ name, payload, meta: { ...meta, hadEm: Boolean(meta.em) } }), { transactional: true })
  }
  const denied = await call('POST', `/billing/admin/organizations/${org}/credits`, { type: 'gift', amountUsd: '5', reason: 'welcome' })
  t.equal(denied.status, 403)
  const gift = await call('POST', `/billing/admin/organizations/${org}/credits`, { type: 'gift', amountUsd: '25', reason: 'welcome gift', idempotencyKey: 'g-1' }, admin.key)
  t.equal(gift.status, 201)
  t.equal(gift.json.entry.type, 'gift')
  const replay = await call('POST', `/billing/admin/organizations/${org}/credits`, { type: 'gift', amountUsd: '25', reason: 'welcome gift', idempotencyKey: 'g-1' }, admin.key)
  t.equal(replay.status, 200)
  t.equal(replay.json.duplicate, true)
  const adjust = await call('POST', `/billing/admin/organizations/${org}/credits`, { type: 'adjustment', amountUsd: '-7.5', reason: 'usage correction' }, admin.key)
  t.equal(adjust.status, 201)
  t.equal((await call('POST', `/billing/admin/organizations/${org}/credits`, { type: 'gift', amountUsd: '-1', reason: 'nope' }, admin.key)).status, 400)
  t.equal((await call('POST', `/billing/admin/organizations/${org}/credits`, { type: 'gift', amountUsd: 'ten', reason: 'nope' }, admin.key)).json.error.field, 'amountUsd')
  t.equal(await ledger.balance({ organizationId: org }), 175n * USD / 10n)
  t.equal(seen.length, 2, 'one audit event per change, none for the replay')
  t.same(seen[0].payload.before, { balanceUsd: '0' })
  t.same(seen[0].payload.after, { balanceUsd: '25' })
  t.same(seen[1].payload.after, { balanceUsd: '17.5' })
  t.equal(seen[0].meta.actor.type, 'api_key')
  t.equal(seen[0].meta.hadEm, true, 'the event carries the transaction')
  t.ok(seen[0].meta.ip)
  const history = await call('GET', `/billing/organizations/${org}/transactions?types=gift,adjustment&limit=1`)
  t.equal(history.json.transactions.length, 1)
  t.equal(history.json.transactions[0].type, 'adjustment')
  t.ok(history.json.nextCursor)
  const next = await call('GET', `/billing/organizations/${org}/transactions?types=gift,adjustment&limit=1&cursor=${encodeURIComponent(history.json.nextCursor)}`)
  t.equal(next.json.transactions[0].type, 'gift')
  t.equal((await call('GET', `/billing/organizations/${org}/transactions?types=bogus`)).status, 400)
  await assertLedgerInvariant(t, ledger)
})

t.test('with the audit plugin installed, payments and administration land in the audit trail', async (t) => {
  const { auditPlugin } = await import('@tollgate/plugin-audit')
  const { createTestGateway } = await import('@tollgate/core/testing')
  const { billingPlugin, billingLedgerRef } = await import('../src/index.ts')
  const gw = await createTestGateway({ plugins: [auditPlugin({}), billingPlugin({ devMode: true })] })
  t.teardown(() => gw.close())
  const admin = await platformAdminKey(gw)
  const inject = (url: string, body: unknown, key: string) =>
    gw.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': 'billing-test/1' }, payload: JSON.stringify(body) })
  t.equal((await inject(`/billing/admin/organizations/${gw.organizationId}/credits`, { type: 'gift', amountUsd: '3', reason: 'launch' }, admin.key)).statusCode, 201)
  t.equal((await inject(`/billing/organizations/${gw.organizationId}/checkout`, { packageId: 'starter' }, gw.apiKey)).statusCode, 200)
  const rows = await gw.db.orm.em
    .fork()
    .execute<{ action: string; resource_type: string; actor_type: string; user_agent: string | null; diff: unknown }[]>(
      "select action, resource_type, actor_type, user_agent, diff from audit_entry where organization_id = ? and resource_type = 'credits' order by seq",
      [gw.organizationId],
      'all',
    )
  t.same(
    rows.map((r) => r.action),
    ['credits.gifted', 'credits.purchased'],
  )
  t.equal(rows[0].actor_type, 'api_key')
  t.equal(rows[0].user_agent, 'billing-test/1')
  t.match(JSON.stringify(rows[0].diff), /"balanceUsd":"3"/, 'the balance before and after is in the entry')
  await assertLedgerInvariant(t, gw.services.get(billingLedgerRef))
})
