import t from 'tap'
import { assertLedgerInvariant, commerceGateway, platformAdminKey, shuffle } from './support/commerce-gateway.ts'
import type { FakeEvent } from './support/fake-stripe.ts'

const USD = 1_000_000_000_000n

t.test('a Checkout purchase credits the package and its bonus once the signed webhook arrives', async (t) => {
  const { gw, stripe, ledger, call, deliver } = await commerceGateway(t)
  const org = gw.organizationId
  const started = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'growth' })
  t.equal(started.status, 201, JSON.stringify(started.json))
  t.equal(started.json.mode, 'stripe')
  t.match(started.json.url, /^https:\/\/checkout\.stripe\.test\//)
  const created = stripe.requests.find((r) => r.path === '/v1/checkout/sessions')!
  t.equal(created.body.line_items[0].price_data.unit_amount, '5000', 'the package price in cents reaches Stripe')
  t.equal(created.body.payment_intent_data.setup_future_usage, 'off_session', 'the card is saved for auto-topup')
  t.equal(await ledger.balance({ organizationId: org }), 0n, 'nothing is credited before payment')

  const events = stripe.completeCheckout(started.json.sessionId)
  for (const e of events) t.equal((await deliver(e)).status, 200, `${e.type} accepted`)
  t.equal(await ledger.balance({ organizationId: org }), 50n * USD + 25n * USD / 10n, '$50 of credits + $2.50 bonus')
  const history = await ledger.history({ organizationId: org })
  t.same(history.entries.map((e) => e.type).sort(), ['bonus', 'purchase'])
  const payments = await call('GET', `/billing/organizations/${org}/payments`)
  t.equal(payments.json.payments[0].status, 'succeeded')
  t.equal(payments.json.payments[0].amountUsd, '50')
  const topup = await call('GET', `/billing/organizations/${org}/auto-topup`)
  t.equal(topup.json.hasPaymentMethod, true, 'the card used at checkout is saved')
  const portal = await call('POST', `/billing/organizations/${org}/portal`, { returnUrl: 'https://app.example.test/billing' })
  t.equal(portal.status, 200)
  t.match(portal.json.url, /^https:\/\/billing\.stripe\.test\//)
  const portalRequest = stripe.requests.find((r) => r.path === '/v1/billing_portal/sessions')!
  t.equal(portalRequest.body.customer, stripe.sessions.get(started.json.sessionId)!.customer, 'the portal opens for the organization’s own customer')
  t.equal(portalRequest.body.return_url, 'https://app.example.test/billing')
  t.equal(stripe.customers.size, 1, 'one Stripe customer per account')
  // A card chosen in the portal: customer.updated makes it the auto-topup card (read back from Stripe).
  const customer = [...stripe.customers.values()][0]
  customer.invoice_settings.default_payment_method = 'pm_from_portal'
  t.equal((await deliver(stripe.emit('customer.updated', customer))).json.outcome, 'processed')
  const row = await gw.db.orm.em.fork().execute('select default_payment_method from billing_customer where stripe_customer_id = ?', [customer.id], 'all')
  t.equal(row[0].default_payment_method, 'pm_from_portal')
  await assertLedgerInvariant(t, ledger)
})

t.test('stale, re-signed, body-modified and unsigned webhooks are rejected and change nothing', async (t) => {
  const { gw, stripe, ledger, call, deliver } = await commerceGateway(t)
  const org = gw.organizationId
  const started = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' })
  const completed = stripe.completeCheckout(started.json.sessionId).find((e) => e.type === 'checkout.session.completed')!

  const stale = await deliver(completed, { timestamp: Math.floor(Date.now() / 1000) - 301 })
  t.equal(stale.status, 400)
  t.equal(stale.json.error.code, 'TOLLGATE_ERR_PAYMENT_WEBHOOK_INVALID')
  t.match(stale.json.error.message, /tolerance/i)
  const resigned = await deliver(completed, { secret: 'whsec_someone_else' })
  t.equal(resigned.status, 400)
  t.match(resigned.json.error.message, /signature/i)
  const modified = await deliver(completed, { tamper: (p) => p.replace('"amount_total": 1000', '"amount_total": 100000') })
  t.equal(modified.status, 400)
  const unsigned = await gw.app.inject({ method: 'POST', url: '/billing/stripe/webhook', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(completed) })
  t.equal(unsigned.statusCode, 400)
  t.equal(unsigned.json().error.field, 'stripe-signature')
  t.equal(await ledger.balance({ organizationId: org }), 0n, 'no rejected webhook credited anything')

  const fresh = await deliver(completed, { timestamp: Math.floor(Date.now() / 1000) - 280 })
  t.equal(fresh.status, 200, 'a delivery inside the 300 s tolerance is accepted')
  t.equal(await ledger.balance({ organizationId: org }), 10n * USD)
  await assertLedgerInvariant(t, ledger)
})

t.test('every webhook delivered three times, shuffled, with concurrent duplicates: one credit per payment, one debit per refund', async (t) => {
  const { gw, stripe, ledger, call, deliver } = await commerceGateway(t)
  const org = gw.organizationId
  const admin = await platformAdminKey(gw)
  const events: FakeEvent[] = []
  const sessions: string[] = []
  for (const packageId of ['starter', 'growth', 'scale']) {
    const started = await call('POST', `/billing/organizations/${org}/checkout`, { packageId })
    sessions.push(started.json.sessionId)
    events.push(...stripe.completeCheckout(started.json.sessionId))
  }
  // Refunds made in Stripe's dashboard (not through the gateway): only their webhooks tell us.
  const pi = (i: number) => stripe.sessions.get(sessions[i])!.payment_intent
  const before = stripe.events.length
  stripe.createRefund({ payment_intent: pi(1), amount: '2000' }) // $20 of the $50 growth package
  stripe.createRefund({ payment_intent: pi(2) }) // the whole $200 scale package
  events.push(...stripe.eventsSince(before))

  const deliveries = shuffle([...events, ...events, ...events], 7)
  // Batches of concurrent deliveries, so duplicates of one event race each other.
  for (let i = 0; i < deliveries.length; i += 8) {
    const batch = deliveries.slice(i, i + 8)
    const results = await Promise.all(batch.map((e) => deliver(e)))
    for (const r of results) t.equal(r.status, 200)
  }
  const { entries } = await ledger.history({ organizationId: org }, { limit: 500 })
  const count = (type: string) => entries.filter((e) => e.type === type).length
  t.equal(count('purchase'), 3, 'one purchase credit per payment')
  t.equal(count('bonus'), 2, 'one bonus credit per package that has a bonus')
  t.equal(count('refund'), 2, 'one refund debit per refund')
  // growth: $52.50 credited, 40% refunded → $21 debited; scale: $220 credited and all debited.
  const expected = 10n * USD + (525n * USD) / 10n - 21n * USD + 220n * USD - 220n * USD
  t.equal(await ledger.balance({ organizationId: org }), expected)
  const payments = await call('GET', `/billing/organizations/${org}/payments`)
  t.same(payments.json.payments.map((p: { refundedUsd: string }) => p.refundedUsd).sort(), ['0', '20', '200'])

  // A refund through the gateway debits at once; its webhooks then change nothing.
  const starter = payments.json.payments.find((p: { packageId: string }) => p.packageId === 'starter')
  const at = stripe.events.length
  const refund = await call('POST', `/billing/organizations/${org}/payments/${starter.id}/refund`, { amountUsd: '4', reason: 'goodwill' }, admin.key)
  t.equal(refund.status, 200, JSON.stringify(refund.json))
  const afterApi = await ledger.balance({ organizationId: org })
  t.equal(afterApi, expected - 4n * USD)
  for (const e of shuffle([...stripe.eventsSince(at), ...stripe.eventsSince(at)], 3)) t.equal((await deliver(e)).status, 200)
  t.equal(await ledger.balance({ organizationId: org }), afterApi, 'the refund webhooks did not debit again')
  const tooMuch = await call('POST', `/billing/organizations/${org}/payments/${starter.id}/refund`, { amountUsd: '7' }, admin.key)
  t.equal(tooMuch.status, 409)
  t.equal(tooMuch.json.error.code, 'TOLLGATE_ERR_PAYMENT_REFUND_INVALID')
  const notAdmin = await call('POST', `/billing/organizations/${org}/payments/${starter.id}/refund`, { amountUsd: '1' })
  t.equal(notAdmin.status, 403, 'an organization owner cannot refund; the operator does')
  await assertLedgerInvariant(t, ledger)
})

t.test('a refund delivered before its payment still credits then debits; a failed refund is reversed once', async (t) => {
  const { gw, stripe, ledger, call, deliver } = await commerceGateway(t)
  const org = gw.organizationId
  const started = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' })
  const paid = stripe.completeCheckout(started.json.sessionId)
  const at = stripe.events.length
  const refund = stripe.createRefund({ payment_intent: stripe.sessions.get(started.json.sessionId)!.payment_intent, amount: '500' })
  const refundEvents = stripe.eventsSince(at)
  for (const e of refundEvents) t.equal((await deliver(e)).status, 200)
  t.equal(await ledger.balance({ organizationId: org }), 5n * USD, 'the refund event credited the payment first, then debited half')
  for (const e of paid) await deliver(e)
  t.equal(await ledger.balance({ organizationId: org }), 5n * USD, 'the late payment events changed nothing')
  const failed = stripe.failRefund(refund.id)
  for (const e of [...failed, ...failed]) t.equal((await deliver(e)).status, 200)
  t.equal(await ledger.balance({ organizationId: org }), 10n * USD, 'the failed refund was reversed once')
  const { entries } = await ledger.history({ organizationId: org }, { types: ['refund'] })
  t.equal(entries.length, 2, 'a refund debit and its reversal')
  t.equal(entries.find((e) => e.amount > 0n)?.reversesEntryId, entries.find((e) => e.amount < 0n)?.id)
  await assertLedgerInvariant(t, ledger)
})
