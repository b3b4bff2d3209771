import t from 'tap'
import { randomUUID } from 'node:crypto'
import { billingControlRef, billingLedgerRef } from '@tollgate/plugin-billing-stripe'
import { addToRollup, foldUsage, ROLLUP_CONSUMER } from '../src/commerce/usage-rollup.ts'
import { SETTLEMENT_CONSUMER } from '../src/ledger/usage-settlement-worker.ts'
import { assertLedgerInvariant, billingGateway, buyCredits, startFakeOpenAI } from './budgets-support.ts'

t.test('one read of the usage events settles and rolls up; an older separate settlement cursor is caught up first, then dropped', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  // No scheduled worker turns: the test runs them itself, in a known order.
  const gw = await billingGateway(fake, { settlement: { flushIntervalMs: 10, workerIntervalMs: 100_000_000 }, usageRollupEveryMs: 100_000_000 })
  t.teardown(() => gw.close())
  const ledger = gw.services.get(billingLedgerRef)
  const control = gw.services.get(billingControlRef)
  await buyCredits(gw, gw.organizationId, 10n ** 12n)
  const em = () => gw.db.orm.em.fork()
  const event = (cost: bigint) => {
    const requestId = randomUUID()
    void gw.usageWriter.add({ requestId, occurredAt: new Date(), organizationId: gw.organizationId, projectId: gw.projectId, userId: gw.userId, provider: 'fake', model: 'fake-model', inputTokens: 10, outputTokens: 5, cachedReadTokens: 0, cacheWriteTokens: 0, cost, marketCost: cost, latencyMs: 5, status: 200, streaming: false, estimated: false })
    return requestId
  }
  const rolledUp = async () => {
    const [r] = await em().execute<{ n: string | null }[]>('select sum(requests)::text as n from billing_usage_rollup where organization_id = ?', [gw.organizationId], 'all')
    return Number(r.n ?? 0)
  }
  // Core's reader sees events only below every running transaction's snapshot: poll, bounded.
  const until = async (done: () => Promise<boolean>) => {
    for (let i = 0; i < 150 && !(await done()); i++) {
      await control.settleUsageEvents()
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  const first = event(1_000_000n)
  await gw.usageWriter.flush()
  await until(async () => (await ledger.settledRequest(first)) !== undefined && (await rolledUp()) === 1)
  t.equal((await ledger.settledRequest(first))?.cost, 1_000_000n, 'the combined read settled the request')
  t.equal(await rolledUp(), 1, '…and rolled it up, once')

  // As after an upgrade from the version with two consumers: the rollup's cursor read an event
  // that the separate settlement cursor (left at the start) had not, and nothing settled it.
  const missed = event(2_000_000n)
  await gw.usageWriter.flush()
  let read = 0
  for (let i = 0; i < 150 && read === 0; i++) {
    read = await gw.usage.consume(ROLLUP_CONSUMER, 100, async (events, tx) => addToRollup(tx as never, foldUsage(events)))
    if (read === 0) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(read, 1, 'the old rollup consumer read the event')
  await em().execute("insert into core_event_cursor (consumer) values (?) on conflict (consumer) do update set tx_id = '0'::xid8, last_id = 0", [SETTLEMENT_CONSUMER], 'run')
  t.equal(await ledger.settledRequest(missed), undefined, 'not settled yet')

  await control.settleUsageEvents()
  t.equal((await ledger.settledRequest(missed))?.cost, 2_000_000n, 'the old cursor was caught up: the event is settled')
  const legacy = await em().execute<unknown[]>('select 1 from core_event_cursor where consumer = ?', [SETTLEMENT_CONSUMER], 'all')
  t.equal(legacy.length, 0, 'and the old cursor is dropped once it reached the combined one')
  t.equal(await rolledUp(), 2, 'nothing was rolled up twice')
  const debits = (await ledger.history({ organizationId: gw.organizationId }, { types: ['usage_debit'] })).entries
  t.equal(debits.reduce((s, e) => s - e.amount, 0n), 3_000_000n, 'each request debited once')

  const later = event(4_000_000n)
  await gw.usageWriter.flush()
  await until(async () => (await ledger.settledRequest(later)) !== undefined && (await rolledUp()) === 3)
  t.equal((await ledger.settledRequest(later))?.cost, 4_000_000n)
  t.equal(await rolledUp(), 3)
  await assertLedgerInvariant(t, gw)
})
