import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { CommerceServiceRef } from '../src/commerce/commerce-service.ts'
import { billingLedgerRef, billingPlugin } from '../src/index.ts'
import { WEBHOOK_SECRET, assertLedgerInvariant, commerceGateway, shuffle } from './support/commerce-gateway.ts'

const USD = 1_000_000_000_000n

t.test('three instances sharing one PostgreSQL: one auto-topup charge per crossing, one credit per payment', { skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL (instances sharing one PostgreSQL)' }, async (t) => {
  const first = await commerceGateway(t, { autoTopup: { checkEveryMs: 3_600_000 } })
  const org = first.gw.organizationId
  const config = {
    stripe: { secretKey: 'sk_test_123', webhookSecret: WEBHOOK_SECRET, apiHost: '127.0.0.1', apiPort: first.stripe.port, apiProtocol: 'http' },
    autoTopup: { checkEveryMs: 3_600_000 },
  }
  const others = []
  for (let i = 0; i < 2; i++) {
    const gw = await createTestGateway({ plugins: [billingPlugin(config)], config: { database: { ...first.gw.testDb.options, migrate: false } } as never })
    t.teardown(() => gw.close())
    others.push(gw)
  }
  const instances = [first.gw, ...others]
  const started = await first.call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' })
  const events = first.stripe.completeCheckout(started.json.sessionId)
  // Every event to every instance, at once.
  const deliveries = shuffle(
    events.flatMap((e) => instances.map((gw) => ({ gw, e }))),
    9,
  )
  await Promise.all(
    deliveries.map(async ({ gw, e }) => {
      const payload = JSON.stringify(e)
      const res = await gw.app.inject({ method: 'POST', url: '/billing/stripe/webhook', headers: { 'content-type': 'application/json', 'stripe-signature': first.sdk.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }) }, payload })
      t.equal(res.statusCode, 200)
    }),
  )
  const ledger = first.ledger
  t.equal(await ledger.balance({ organizationId: org }), 10n * USD, 'one credit although three instances got every event')

  t.equal((await first.call('PUT', `/billing/organizations/${org}/auto-topup`, { enabled: true, thresholdUsd: '5', amountUsd: '20' })).json.lastCheck, 'above-threshold')
  await ledger.post({ account: { organizationId: org }, type: 'usage_debit', amount: -8n * USD, idempotencyKey: 'multi-debit-1', description: 'test usage' })
  const outcomes = await Promise.all(instances.flatMap((gw) => Array.from({ length: 4 }, () => gw.services.get(CommerceServiceRef).checkAutoTopup({ organizationId: org }))))
  t.equal(outcomes.filter((o) => o === 'charged').length, 1, `one charge across instances: ${outcomes.join(', ')}`)
  t.equal(first.stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents').length, 1)
  t.equal(await others[1].services.get(billingLedgerRef).balance({ organizationId: org }), 22n * USD)
  await assertLedgerInvariant(t, ledger)
})
