import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { billingPlugin } from '../src/index.ts'
import { assertLedgerInvariant, commerceGateway, platformAdminKey } from './support/commerce-gateway.ts'

t.test('a bad payments config stops the gateway with the field named', async (t) => {
  await t.rejects(createTestGateway({ plugins: [billingPlugin({ creditPackages: [{ id: 'a', priceUsd: '10.001', creditsUsd: '10' }] })] }), /creditPackages\[0\]\.priceUsd|priceUsd/)
  await t.rejects(
    createTestGateway({
      plugins: [
        billingPlugin({
          creditPackages: [
            { id: 'a', priceUsd: '10', creditsUsd: '10' },
            { id: 'a', priceUsd: '20', creditsUsd: '20' },
          ],
        }),
      ],
    }),
    /creditPackages\[1\]\.id: "a" is used twice/,
  )
  await t.rejects(createTestGateway({ plugins: [billingPlugin({ stripe: { secretKey: 'sk_test_x' } })] }), /webhookSecret/)
})

t.test('Stripe refusing a call: 502 with its reason, the payment closed and the discount use given back', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t, {}, { secretKey: 'sk_live_revoked' })
  const admin = await platformAdminKey(gw)
  await call('POST', '/billing/admin/discount-codes', { code: 'ONCE', kind: 'percent', percentOff: 10, maxRedemptions: 1 }, admin.key)
  const res = await call('POST', `/billing/organizations/${gw.organizationId}/checkout`, { packageId: 'starter', discountCode: 'ONCE' })
  t.equal(res.status, 502, JSON.stringify(res.json))
  t.equal(res.json.error.code, 'TOLLGATE_ERR_PAYMENT_PROVIDER_FAILED')
  t.match(res.json.error.message, /Invalid API Key/)
  const payments = await call('GET', `/billing/organizations/${gw.organizationId}/payments`)
  t.equal(payments.json.payments[0].status, 'failed')
  const codes = await call('GET', '/billing/admin/discount-codes', undefined, admin.key)
  t.equal(codes.json.codes[0].redemptions, 0, 'the held use was released')
  await assertLedgerInvariant(t, ledger)
})

t.test('a declined renewal is recorded once and the plan stays while Stripe retries (past_due)', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t, { plans: { pro: { prices: { month: { amountUsd: '49', stripePriceId: 'price_pro_month' } } } } })
  const org = gw.organizationId
  const started = await call('POST', `/billing/organizations/${org}/subscription`, { plan: 'pro', interval: 'month' })
  for (const e of stripe.completeCheckout(started.json.sessionId)) await deliver(e)
  const sub = [...stripe.subscriptions.values()][0]
  const failed = stripe.failRenewal(sub.id)
  for (const e of [...failed, ...failed.reverse()]) t.equal((await deliver(e)).status, 200)
  const plan = await call('GET', `/billing/organizations/${org}/plan`)
  t.equal(plan.json.plan.id, 'pro')
  t.equal(plan.json.subscription.status, 'past_due')
  const payments = await call('GET', `/billing/organizations/${org}/payments`)
  t.equal(payments.json.failures.length, 1)
  t.equal(payments.json.failures[0].kind, 'subscription_invoice')
  const admin = await platformAdminKey(gw)
  const all = await call('GET', '/billing/admin/payment-failures', undefined, admin.key)
  t.equal(all.json.failures[0].organizationId, org, 'platform admins monitor payment failures')
  // An event about a payment this gateway never made is acknowledged and ignored.
  const foreign = stripe.createPaymentIntent({ amount: '5000', currency: 'usd' })
  const foreignEvents = stripe.events.filter((e) => e.data.object.id === foreign.id)
  for (const e of foreignEvents) t.same((await deliver(e)).json.outcome, 'ignored')
  await assertLedgerInvariant(t, ledger)
})
