import t from 'tap'
import { CommerceServiceRef } from '../src/commerce/commerce-service.ts'
import { assertLedgerInvariant, commerceGateway } from './support/commerce-gateway.ts'

const USD = 1_000_000_000_000n

t.test('auto-topup charges the saved card off-session at most once per threshold crossing; failures are recorded, never looped', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t, { autoTopup: { checkEveryMs: 3_600_000 } })
  const org = gw.organizationId
  const account = { organizationId: org }
  const service = gw.services.get(CommerceServiceRef)
  const started = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' })
  for (const e of stripe.completeCheckout(started.json.sessionId)) await deliver(e)
  t.equal(await ledger.balance(account), 10n * USD)

  t.equal((await call('PUT', `/billing/organizations/${org}/auto-topup`, { enabled: true, thresholdUsd: '5', amountUsd: '1' })).status, 400, 'below the minimum top-up')
  const bad = await call('PUT', `/billing/organizations/${org}/auto-topup`, { enabled: true, thresholdUsd: '5', amountUsd: '20.001' })
  t.equal(bad.json.error.field, 'amountUsd')
  const set = await call('PUT', `/billing/organizations/${org}/auto-topup`, { enabled: true, thresholdUsd: '5', amountUsd: '20' })
  t.equal(set.status, 200)
  t.equal(set.json.lastCheck, 'above-threshold')

  let debits = 0
  const spend = (usd: bigint) => ledger.post({ account, type: 'usage_debit', amount: -usd * USD, idempotencyKey: `test-debit-${debits++}`, description: 'test usage' })
  await spend(7n) // $3 left: below the $5 threshold
  const piRequests = () => stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents')
  // The debit itself already triggers a check (ledger.onPosted); six more race it.
  const outcomes = await Promise.all(Array.from({ length: 6 }, () => service.checkAutoTopup(account)))
  t.ok(outcomes.filter((o) => o === 'charged').length <= 1, `at most one check charged: ${outcomes.join(', ')}`)
  for (let i = 0; i < 100 && (await ledger.balance(account)) < 23n * USD; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(piRequests().length, 1, 'one PaymentIntent for the crossing')
  const pi = piRequests()[0].body
  t.equal(pi.off_session, 'true')
  t.equal(pi.confirm, 'true')
  t.equal(pi.amount, '2000')
  t.ok(pi.payment_method, 'the saved card is charged')
  t.equal(await ledger.balance(account), 23n * USD)
  // Stripe's own webhooks for that charge, twice: no second credit.
  const topupEvents = stripe.events.filter((e) => e.data.object.metadata?.tollgate_kind === 'auto_topup')
  for (const e of [...topupEvents, ...topupEvents]) t.equal((await deliver(e)).status, 200)
  t.equal(await ledger.balance(account), 23n * USD)
  t.equal(await service.checkAutoTopup(account), 'above-threshold', 'back above the threshold: armed again')

  await spend(20n) // $3 left: a second crossing
  service.afterDebit(account)
  service.afterDebit(account)
  for (let i = 0; i < 100 && piRequests().length < 2; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(piRequests().length, 2, 'the second crossing charges once more')
  for (let i = 0; i < 100 && (await ledger.balance(account)) !== 23n * USD; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(await ledger.balance(account), 23n * USD)

  // The card starts failing: one failed attempt, recorded and visible, and no retry loop.
  const pm = [...stripe.paymentIntents.values()].at(-1)!.payment_method
  stripe.declining.add(pm)
  await spend(20n)
  await Promise.all([service.checkAutoTopup(account), service.checkAutoTopup(account)])
  for (let i = 0; i < 100 && piRequests().length < 3; i++) await new Promise((r) => setTimeout(r, 20))
  await new Promise((r) => setTimeout(r, 100))
  t.equal(await service.checkAutoTopup(account), 'already-charged-this-crossing', 'a declined crossing is not charged again')
  t.equal(piRequests().length, 3, 'one declined attempt')
  const failedEvents = stripe.events.filter((e) => e.type === 'payment_intent.payment_failed')
  for (const e of [...failedEvents, ...failedEvents]) t.equal((await deliver(e)).status, 200)
  const payments = await call('GET', `/billing/organizations/${org}/payments`)
  t.equal(payments.json.failures.length, 1, 'the failure is recorded once (API answer and webhook agree)')
  t.equal(payments.json.failures[0].code, 'insufficient_funds')
  t.equal(payments.json.payments.filter((p: { status: string }) => p.status === 'failed').length, 1)
  const settings = await call('GET', `/billing/organizations/${org}/auto-topup`)
  t.match(settings.json.lastFailure, /insufficient_funds/)
  t.equal(settings.json.armed, false)
  t.equal(await ledger.balance(account), 3n * USD)
  await assertLedgerInvariant(t, ledger)
})

t.test('auto-topup without a saved card records the failure; in development mode it grants at once', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t)
  const org = gw.organizationId
  const set = await call('PUT', `/billing/organizations/${org}/auto-topup`, { enabled: true, thresholdUsd: '5', amountUsd: '10' })
  t.equal(set.json.lastCheck, 'failed', 'the balance (0) is already below the threshold, and there is no card')
  const payments = await call('GET', `/billing/organizations/${org}/payments`)
  t.equal(payments.json.failures[0].code, 'no_payment_method')
  await assertLedgerInvariant(t, ledger)

  const dev = await commerceGateway(t, { devMode: true }, { withStripe: false })
  const res = await dev.call('PUT', `/billing/organizations/${dev.gw.organizationId}/auto-topup`, { enabled: true, thresholdUsd: '5', amountUsd: '10' })
  t.equal(res.json.lastCheck, 'charged')
  t.equal(await dev.ledger.balance({ organizationId: dev.gw.organizationId }), 10n * USD)
  const { entries } = await dev.ledger.history({ organizationId: dev.gw.organizationId })
  t.same(entries.map((e) => e.type), ['purchase'], 'a development grant')
  await assertLedgerInvariant(t, dev.ledger)
})

t.test('requests that spend the balance below the threshold trigger the top-up as their charges are settled', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t, { autoTopup: { checkEveryMs: 3_600_000 } })
  const org = gw.organizationId
  const started = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' })
  for (const e of stripe.completeCheckout(started.json.sessionId)) await deliver(e)
  const set = await call('PUT', `/billing/organizations/${org}/auto-topup`, { enabled: true, thresholdUsd: '9.999999', amountUsd: '10' })
  t.equal(set.json.lastCheck, 'above-threshold')
  const chat = () => gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, payload: { model: 'mock-echo', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 16 } })
  const charges = () => stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.body.off_session === 'true')
  for (let i = 0; i < 3; i++) t.equal((await chat()).statusCode, 200)
  for (let i = 0; i < 300 && charges().length === 0; i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(charges().length, 1, 'the settled debits crossed the threshold: one off-session charge')
  for (let i = 0; i < 100 && (await ledger.balance({ organizationId: org })) < 10n * USD; i++) await new Promise((r) => setTimeout(r, 50))
  const balance = await ledger.balance({ organizationId: org })
  t.ok(balance > 19n * USD && balance < 20n * USD, `topped up to just under $20 (${balance})`)
  await new Promise((r) => setTimeout(r, 300))
  t.equal(charges().length, 1, 'no second charge for the same crossing')
  await assertLedgerInvariant(t, ledger)
})
