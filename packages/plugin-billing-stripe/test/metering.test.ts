import t, { type Test } from 'tap'
import { parseUsd } from '@tollgate/core'
import { billingControlRef, billingLedgerRef } from '@tollgate/plugin-billing-stripe'
import { api, assertLedgerInvariant, billingGateway, buyCredits, startFakeOpenAI } from './budgets-support.ts'

/** A billing gateway with these meter settings and $10 of credits on its organization. */
async function meteredGateway(t: Test, meters: Record<string, unknown>) {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  const gw = await billingGateway(fake, { meters })
  t.teardown(() => gw.close())
  await buyCredits(gw, gw.organizationId, parseUsd('10'), 'credits')
  return gw
}

/** Reports a storage sample taken at `occurredAt`; resolves with the HTTP status. */
function storageSample(gw: { url: string; apiKey: string }, gb: string, idempotencyKey: string, occurredAt: Date): Promise<number> {
  return fetch(`${gw.url}/billing/usage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ meter: 'storage_gb', quantity: gb, idempotencyKey, occurredAt: occurredAt.toISOString() }),
  }).then((r) => r.status)
}

t.test('generic meters: idempotent POST /billing/usage, unit prices, storage at daily peak, settled into the ledger once', async (t) => {
  const gw = await meteredGateway(t, { prices: { sql_queries: '0.0001' } })
  const ledger = gw.services.get(billingLedgerRef)
  const usage = (body: Record<string, unknown>, headers?: Record<string, string>) =>
    fetch(`${gw.url}/billing/usage`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json() }))

  const meters = await api(gw.url, gw.apiKey, 'GET', '/billing/meters')
  t.match(meters.json.meters, [{ name: 'api_requests' }, { name: 'sql_queries', unitPriceUsd: '0.0001' }, { name: 'storage_gb', kind: 'gauge' }, { name: 'compute_minutes' }, { name: 'bandwidth_gb' }, { name: 'stored_tokens', unitPriceUsd: '0.00000001' }])

  const first = await usage({ meter: 'sql_queries', quantity: 250, idempotencyKey: 'batch-1', projectId: gw.projectId })
  t.equal(first.status, 201, 'recorded')
  t.equal(first.json.event.costUsd, '0.025', '250 queries at $0.0001')
  const again = await usage({ meter: 'sql_queries', quantity: 250, idempotencyKey: 'batch-1', projectId: gw.projectId })
  t.equal(again.status, 200, 'a retry is answered, not recorded twice')
  t.equal(again.json.duplicate, true)
  t.equal(again.json.event.id, first.json.event.id)
  const conflict = await usage({ meter: 'sql_queries', quantity: 251, idempotencyKey: 'batch-1' })
  t.equal(conflict.status, 409)
  t.equal(conflict.json.error.code, 'TOLLGATE_ERR_BILLING_IDEMPOTENCY_CONFLICT')
  const viaHeader = await usage({ meter: 'stored_tokens', quantity: '5000000' }, { 'idempotency-key': 'retention-2026-11-22' })
  t.equal(viaHeader.status, 201)
  t.equal(viaHeader.json.event.costUsd, '0.05', 'data retention: $0.01 per million stored tokens')
  const computeMinutes = await usage({ meter: 'compute_minutes', quantity: '12.5', idempotencyKey: 'cm-1' })
  t.equal(computeMinutes.json.event.costUsd, '0.01', '12.5 minutes at $0.0008')

  const unknown = await usage({ meter: 'gpu_hours', quantity: 1, idempotencyKey: 'x' })
  t.equal(unknown.status, 400)
  t.equal(unknown.json.error.code, 'TOLLGATE_ERR_BILLING_UNKNOWN_METER')
  const negative = await usage({ meter: 'api_requests', quantity: -1, idempotencyKey: 'neg' })
  t.equal(negative.status, 400)
  t.equal(negative.json.error.param ?? negative.json.error.field ?? negative.json.error.message.split(' ')[0], 'quantity', 'the error names the field')
  const noKey = await usage({ meter: 'api_requests', quantity: 1 })
  t.equal(noKey.status, 400)
  t.match(noKey.json.error.message, /idempotencyKey/)

  // Storage: three samples yesterday (peak 7.25 GB) and one today, in the organization's timezone.
  const yesterday = new Date(Date.now() - 26 * 3600_000)
  for (const [i, gb] of ['3.5', '7.25', '5'].entries()) {
    const r = await usage({ meter: 'storage_gb', quantity: gb, idempotencyKey: `st-y-${i}`, occurredAt: new Date(yesterday.getTime() + i * 60_000).toISOString() })
    t.equal(r.status, 201)
  }
  await usage({ meter: 'storage_gb', quantity: '100', idempotencyKey: 'st-today' })

  // The meter worker also runs on its own timer; settle now and compare with the credits bought.
  await gw.services.get(billingControlRef).settleMeters()
  const after = await ledger.balance({ organizationId: gw.organizationId })
  const expected = parseUsd('0.025') + parseUsd('0.05') + parseUsd('0.01') + parseUsd('0.023925')
  t.equal(parseUsd('10') - after, expected, 'counters at unit price plus yesterday\'s storage peak (7.25 GB × $0.0033); today is not over yet')
  await gw.services.get(billingControlRef).settleMeters()
  t.equal(await ledger.balance({ organizationId: gw.organizationId }), after, 'settling again writes nothing')
  const { entries } = await ledger.history({ organizationId: gw.organizationId }, { types: ['usage_debit'] })
  t.equal(entries.length, 4)
  t.ok(entries.every((e) => e.reference?.kind === 'meter'), 'meter debits reference their meter event')
  t.ok(entries.some((e) => e.metadata?.meter === 'storage_gb' && e.metadata?.quantity === '7.25'), 'the storage debit records the peak')

  const from = new Date(Date.now() - 3 * 86400_000).toISOString()
  const to = new Date(Date.now() + 86400_000).toISOString()
  const summary = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/meters?from=${from}&to=${to}`)
  t.equal(summary.status, 200)
  t.match(summary.json.meters.find((m: any) => m.meter === 'storage_gb'), { kind: 'gauge', quantity: '100' }, 'gauges summarise to their peak')
  t.match(summary.json.meters.find((m: any) => m.meter === 'sql_queries'), { quantity: '250', costUsd: '0.025', events: 1 })

  // A viewer's key may not report usage.
  const viewer = await gw.identity.createUser({ email: `viewer-${Date.now()}@example.test` })
  await gw.identity.addMember({ organizationId: gw.organizationId, userId: viewer.id, role: 'viewer', projectIds: [gw.projectId] })
  const vkey = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: viewer.id, name: 'viewer' })
  const denied = await fetch(`${gw.url}/billing/usage`, { method: 'POST', headers: { authorization: `Bearer ${vkey.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ meter: 'api_requests', quantity: 1, idempotencyKey: 'v' }) })
  t.equal(denied.status, 403)
  await assertLedgerInvariant(t, gw)
})

t.test("a gauge day's samples that arrive over a few moments are billed at their peak, not at the first one's", async (t) => {
  // The scheduled settlement worker runs every 200 ms (the tests' setting) while the samples arrive.
  const gw = await meteredGateway(t, { prices: { storage_gb: '0.0033' } })
  const ledger = gw.services.get(billingLedgerRef)
  const sample = (gb: string, i: number) => storageSample(gw, gb, `late-${i}`, new Date(Date.now() - 30 * 3600_000 + i * 60_000))
  t.equal(await sample('2', 0), 201)
  // Several scheduled runs pass between the two samples of the (ended) day.
  await new Promise((r) => setTimeout(r, 700))
  t.equal(await sample('9.5', 1), 201)
  await gw.services.get(billingControlRef).settleMeters()
  const { entries } = await ledger.history({ organizationId: gw.organizationId }, { types: ['usage_debit'], limit: 10 })
  t.equal(entries.length, 1, 'one debit for the day')
  t.equal(entries[0]?.metadata?.quantity, '9.5', 'at the peak of all its samples')
  t.equal(entries[0]?.amount, -(parseUsd('0.0033') * 95n) / 10n, '9.5 GB-days × $0.0033')
  await assertLedgerInvariant(t, gw)
})

t.test('a gauge sample that arrives after its day was billed adds the rise of the peak, once; a lower one adds nothing', async (t) => {
  const gw = await meteredGateway(t, { prices: { storage_gb: '0.0033' } })
  const ledger = gw.services.get(billingLedgerRef)
  const control = gw.services.get(billingControlRef)
  const takenAt = new Date(Date.now() - 30 * 3600_000 + 60_000)
  const sample = (gb: string, key: string) => storageSample(gw, gb, key, takenAt)
  const debits = async () => (await ledger.history({ organizationId: gw.organizationId }, { types: ['usage_debit'], limit: 10 })).entries
  const billed = async () => (await debits()).reduce((sum, e) => sum - e.amount, 0n)
  const gbDays = (tenths: bigint) => (parseUsd('0.0033') * tenths) / 10n

  t.equal(await sample('4', 'day-a'), 201)
  await control.settleMeters()
  t.equal(await billed(), gbDays(40n), 'the ended day is billed at its peak, 4 GB')

  t.equal(await sample('6.5', 'day-late-high'), 201)
  await control.settleMeters()
  const afterRise = await debits()
  t.equal(afterRise.length, 2, 'a second debit for the rise')
  t.equal(await billed(), gbDays(65n), 'the day now costs its new peak, 6.5 GB, in all')
  const rise = afterRise.find((e) => e.metadata?.previousQuantity === '4')
  t.equal(rise?.amount, -gbDays(25n), 'the rise: 2.5 GB-days')
  t.equal(rise?.metadata?.quantity, '6.5')
  t.match(rise?.description, /raised from 4 to 6\.5/)
  await control.settleMeters()
  t.equal((await debits()).length, 2, 'settling again writes nothing')

  t.equal(await sample('5', 'day-late-low'), 201)
  await control.settleMeters()
  t.equal((await debits()).length, 2, 'a late sample below the billed peak adds nothing')
  t.equal(await billed(), gbDays(65n))
  t.equal(await sample('6.5', 'day-late-equal'), 201)
  await control.settleMeters()
  t.equal((await debits()).length, 2, 'nor does one equal to it')
  await assertLedgerInvariant(t, gw)
})
