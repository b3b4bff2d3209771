import t from 'tap'
import { randomUUID } from 'node:crypto'
import { billingAccountsRef, billingLedgerRef } from '@tollgate/plugin-billing-stripe'
import type { SqlLedger } from '../src/ledger/sql-ledger.ts'
import { postRequestCharges, type RequestPosting } from '../src/ledger/request-settlement.ts'
import type { RequestCharge } from '../src/pricing/request-charge.ts'
import { assertLedgerInvariant, billingGateway, buyCredits, startFakeOpenAI } from './budgets-support.ts'

function charge(organizationId: string, cost: bigint, extra: Partial<RequestCharge> = {}): RequestCharge {
  return { requestId: randomUUID(), occurredAt: new Date(), organizationId, model: 'fake-model', cost, marketCost: cost * 2n, inputTokens: 10, outputTokens: 5, cachedReadTokens: 0, cacheWriteTokens: 0, streaming: false, estimated: false, ...extra }
}

t.test('settlement posts one usage_debit per account per batch; a replayed or racing batch debits nothing twice', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  const ledger = gw.services.get(billingLedgerRef) as SqlLedger
  const accounts = gw.services.get(billingAccountsRef)
  const other = (await gw.identity.createUser({ email: `batch-${Date.now()}@example.test` })).personalOrganizationId
  await buyCredits(gw, gw.organizationId, 10n ** 12n)
  await buyCredits(gw, other, 10n ** 12n)
  const a = await accounts.forMember(gw.organizationId, undefined)
  const b = await accounts.forMember(other, undefined)
  const post = (postings: RequestPosting[]) => gw.db.orm.em.fork().transactional((em) => postRequestCharges(ledger, em, postings))
  const debits = async (organizationId: string) => (await ledger.history({ organizationId }, { types: ['usage_debit'] })).entries

  const batch: RequestPosting[] = [
    { charge: charge(gw.organizationId, 3_000n), account: a, counters: [] },
    { charge: charge(other, 5_000n), account: b, counters: [] },
    { charge: charge(gw.organizationId, 4_000n, { streaming: true }), account: a, counters: [] },
  ]
  const first = await post(batch)
  t.equal(first.entries.length, 2, 'one debit per account')
  t.equal(first.fresh.size, 3)
  const [debitA] = await debits(gw.organizationId)
  t.equal(debitA.amount, -7_000n, "the organization's debit is the sum of its two requests")
  t.equal(debitA.metadata?.requests, 2)
  t.equal(debitA.metadata?.marketCost, '14000')
  t.equal(debitA.metadata?.savings, '7000')
  t.equal((await debits(other))[0].amount, -5_000n)
  const detail = await ledger.settledRequest(batch[2].charge.requestId)
  t.equal(detail?.entryId, debitA.id, 'each request names the debit that charged it')
  t.equal(detail?.cost, 4_000n)
  t.equal(detail?.streaming, true)

  const replay = await post(batch)
  t.equal(replay.entries.length, 0, 'a replayed batch posts nothing')
  t.equal(replay.fresh.size, 0)
  t.equal((await debits(gw.organizationId)).length, 1)

  // A batch holding one request settled before and one new: only the new one is debited.
  const mixed = [batch[0], { charge: charge(gw.organizationId, 2_000n), account: a, counters: [] }]
  const third = await post(mixed)
  t.equal(third.entries.length, 1)
  t.equal(third.entries[0].amount, -2_000n, 'only the request not settled before')

  // Two writers settling the same requests at once (instance and worker): each request once.
  const raced: RequestPosting[] = Array.from({ length: 20 }, (_, i) => ({ charge: charge(i % 2 ? other : gw.organizationId, 1_000n), account: i % 2 ? b : a, counters: [] }))
  const both = await Promise.all([post(raced), post([...raced].reverse())])
  t.equal(both[0].fresh.size + both[1].fresh.size, 20, 'every raced request was settled by exactly one writer')
  const total = async (organizationId: string) => (await debits(organizationId)).reduce((s, e) => s - e.amount, 0n)
  t.equal(await total(gw.organizationId), 7_000n + 2_000n + 10n * 1_000n)
  t.equal(await total(other), 5_000n + 10n * 1_000n)
  t.equal(await ledger.balance({ organizationId: other }), 10n ** 12n - 15_000n, 'the balance moved by the debits only')
  await assertLedgerInvariant(t, gw)
})
