/**
 * Payments benchmark: how fast the Stripe webhook endpoint processes deliveries, against a
 * baseline measured in the same run.
 *
 *   baseline   events the plugin only records (payment_intent.created, charge.succeeded):
 *              signature check, JSON parse, one insert into billing_stripe_event
 *   credits    events that credit a payment (payment_intent.succeeded, checkout.session.completed):
 *              the same plus locking the payment, two ledger entries (purchase, bonus), the event
 *   duplicates every delivery again: verified, found in billing_stripe_event, nothing written
 *
 * Run (Node 24): node --import ./test-support/tsx-register.mjs --conditions=tollgate-src \
 *   packages/plugin-billing-stripe/bench/commerce-webhooks.ts
 * BENCH_PAYMENTS (200) and BENCH_CONCURRENCY (16) tune it; DATABASE_URL selects PostgreSQL (else PGlite).
 */
import Stripe from 'stripe'
import { createTestGateway } from '@tollgate/core/testing'
import { billingLedgerRef, billingPlugin } from '@tollgate/plugin-billing-stripe'
import { type FakeEvent, FakeStripe } from '../test/support/fake-stripe.ts'

const payments = Number(process.env.BENCH_PAYMENTS ?? 200)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16)
const secret = 'whsec_bench'
const stripe = await new FakeStripe().start()
const gw = await createTestGateway({
  plugins: [billingPlugin({ stripe: { secretKey: 'sk_test_bench', webhookSecret: secret, apiHost: '127.0.0.1', apiPort: stripe.port, apiProtocol: 'http' } })],
})
const sdk = new Stripe('sk_test_bench', { host: '127.0.0.1', port: stripe.port, protocol: 'http' })
const ledger = gw.services.get(billingLedgerRef)

async function timed(label: string, n: number, fn: () => Promise<void>): Promise<{ label: string; n: number; seconds: number; perSecond: number }> {
  const started = performance.now()
  await fn()
  const seconds = (performance.now() - started) / 1000
  return { label, n, seconds, perSecond: n / seconds }
}

async function deliverAll(events: FakeEvent[]): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < events.length) {
      const e = events[next++]
      const payload = JSON.stringify(e)
      const res = await gw.app.inject({
        method: 'POST',
        url: '/billing/stripe/webhook',
        headers: { 'content-type': 'application/json', 'stripe-signature': sdk.webhooks.generateTestHeaderString({ payload, secret }) },
        payload,
      })
      if (res.statusCode !== 200) throw new Error(`webhook answered ${res.statusCode}: ${res.body}`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

const sessions: string[] = []
const checkout = await timed('checkout sessions created', payments, async () => {
  for (let i = 0; i < payments; i++) {
    const res = await gw.app.inject({
      method: 'POST',
      url: `/billing/organizations/${gw.organizationId}/checkout`,
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      payload: { packageId: 'growth' },
    })
    sessions.push(res.json().sessionId)
  }
})
const all = sessions.flatMap((s) => stripe.completeCheckout(s))
const recordOnly = all.filter((e) => e.type === 'payment_intent.created' || e.type === 'charge.succeeded')
const credits = all.filter((e) => e.type === 'payment_intent.succeeded' || e.type === 'checkout.session.completed')
const baseline = await timed('baseline (record only)', recordOnly.length, () => deliverAll(recordOnly))
const crediting = await timed('crediting events', credits.length, () => deliverAll(credits))
const duplicates = await timed('duplicate deliveries', credits.length, () => deliverAll(credits))

const balance = await ledger.balance({ organizationId: gw.organizationId })
const expected = BigInt(payments) * 52_500_000_000_000n
const verify = await ledger.verify()
const rows = [checkout, baseline, crediting, duplicates].map((r) => ({
  what: r.label,
  count: r.n,
  perSecond: Math.round(r.perSecond),
  msEach: Number(((r.seconds * 1000) / r.n).toFixed(2)),
  vsBaseline: Number((r.perSecond / baseline.perSecond).toFixed(2)),
}))
console.table(rows)
console.log(
  JSON.stringify({
    database: gw.db.driver,
    payments,
    concurrency,
    rows,
    balanceCorrect: balance === expected,
    ledgerInvariant: verify.ok,
  }),
)
await gw.close()
await stripe.close()
if (balance !== expected || !verify.ok) process.exit(1)
