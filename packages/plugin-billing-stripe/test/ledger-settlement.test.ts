import t from 'tap'
import { randomUUID } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { formatUsd, type Gateway } from '@tollgate/core'
import { billingControlRef, billingLedgerRef, runVerifyLedgerCli } from '@tollgate/plugin-billing-stripe'
import { api, assertLedgerInvariant, billingGateway, buyCredits, chat, MODEL, settleAll, startFakeOpenAI } from './budgets-support.ts'

/**
 * A request whose instance died after logging its usage event but before writing its settlement:
 * only the usage event exists (1,000 input tokens, $0.001 at cost, $0.0015 at market, 5 ms long).
 */
async function writeOrphan(gw: { usageWriter: Gateway['usageWriter']; organizationId: string; projectId: string; userId: string }, occurredAt: Date): Promise<string> {
  const requestId = randomUUID()
  void gw.usageWriter.add({
    requestId,
    occurredAt,
    organizationId: gw.organizationId,
    projectId: gw.projectId,
    userId: gw.userId,
    provider: 'fake',
    model: MODEL,
    inputTokens: 1000,
    outputTokens: 0,
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    cost: 1000n * 1_000_000n,
    marketCost: 1500n * 1_000_000n,
    latencyMs: 5,
    status: 200,
    streaming: false,
    estimated: false,
  })
  await gw.usageWriter.flush()
  return requestId
}

t.test('settlement is exactly once: the serving instance and the usage-event worker never both debit a request', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  fake.setScript(() => ({ text: 'ok', usage: { promptTokens: 100, completionTokens: 50 } }))
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  const ledger = gw.services.get(billingLedgerRef)
  await buyCredits(gw, gw.organizationId, 10n ** 12n)
  const budget = await api(gw.url, gw.apiKey, 'POST', `/billing/organizations/${gw.organizationId}/budgets`, { scope: 'organization', period: 'month', limitUsd: '5' })

  const served = await Promise.all(Array.from({ length: 20 }, () => chat(gw.url, gw.apiKey, { model: MODEL, max_tokens: 60, messages: [{ role: 'user', content: 'hello' }] })))
  t.ok(served.every((r) => r.status === 200))
  await settleAll(gw)
  await gw.services.get(billingControlRef).settleUsageEvents()
  const perRequest = 100n * 1_000_000n + 50n * 2_000_000n // 100 input at $1/M + 50 output at $2/M, in picodollars
  const ids = served.map((r) => r.headers['x-request-id'] as string)
  const settled = await Promise.all(ids.map((id) => ledger.settledRequest(id)))
  t.ok(settled.every((s) => s?.cost === perRequest), 'every request settled once, at the request price')
  const { entries } = await ledger.history({ organizationId: gw.organizationId }, { types: ['usage_debit'], limit: 100 })
  t.ok(entries.length >= 1 && entries.length <= 20, `batch debits, not one per request (${entries.length})`)
  t.equal(entries.reduce((s, e) => s - e.amount, 0n), perRequest * 20n, 'the debits add up to the 20 requests, each once')
  const byEntry = new Set(settled.map((s) => s?.entryId))
  t.same(new Set(entries.map((e) => e.id)), byEntry, 'every debit is the batch debit of settled requests')
  t.equal(entries.reduce((s, e) => s + Number(e.metadata?.requests), 0), 20, 'the debits count the requests they charge')
  t.ok(entries.every((e) => e.reference?.kind === 'settlement'), 'a batch debit references its settlement batch')

  // A request whose instance died after logging its usage event but before writing its debit:
  // only the usage event exists. The worker settles it, into the ledger and the budget counter.
  const orphan = await writeOrphan(gw, new Date())
  // Core's reader only reads events older than every running transaction on the server (other
  // databases' included), so on a busy shared PostgreSQL the event can take a moment to appear.
  let settledOrphan = await ledger.settledRequest(orphan)
  for (let i = 0; i < 150 && !settledOrphan; i++) {
    await gw.services.get(billingControlRef).settleUsageEvents()
    settledOrphan = await ledger.settledRequest(orphan)
    if (!settledOrphan) await new Promise((r) => setTimeout(r, 200))
  }
  await gw.services.get(billingControlRef).settleUsageEvents()
  t.equal(settledOrphan?.cost, 1000n * 1_000_000n, 'the worker settled the orphaned request')
  t.equal(settledOrphan?.savings, 500n * 1_000_000n)
  const after = await ledger.history({ organizationId: gw.organizationId }, { types: ['usage_debit'], limit: 100 })
  const orphanDebit = after.entries.find((e) => e.id === settledOrphan?.entryId)
  t.equal(orphanDebit?.amount, -(1000n * 1_000_000n), 'in a debit of its own batch, once')
  t.equal(after.entries.reduce((s, e) => s - e.amount, 0n), perRequest * 20n + 1000n * 1_000_000n, 'nothing was debited twice')
  const listed = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/budgets`)
  t.equal(listed.json.budgets[0].id, budget.json.id)
  t.equal(listed.json.budgets[0].currentPeriod.spent[0].spentUsd, formatUsd(perRequest * 20n + 1000n * 1_000_000n), 'the budget counter includes both paths, each once')
  await assertLedgerInvariant(t, gw)
})

t.test('ledger routes: balance, filtered and paginated history, verify endpoint and command', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  const ledger = gw.services.get(billingLedgerRef)
  const account = { organizationId: gw.organizationId }
  for (let i = 0; i < 5; i++) await ledger.post({ account, type: i % 2 ? 'gift' : 'purchase', amount: 1_000_000_000_000n, idempotencyKey: `p${i}` })
  await ledger.post({ account, type: 'adjustment', amount: -250_000_000_000n, idempotencyKey: 'adj', actor: { type: 'user', id: gw.userId }, description: 'goodwill correction' })

  const balance = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/balance`)
  t.same(balance.json, { organizationId: gw.organizationId, balanceUsd: '4.75', balancePicodollars: '4750000000000' })
  const page1 = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/ledger?limit=4`)
  t.equal(page1.json.entries.length, 4)
  t.equal(page1.json.entries[0].type, 'adjustment')
  t.equal(page1.json.entries[0].amountUsd, '-0.25')
  t.equal(page1.json.entries[0].balanceAfterUsd, '4.75')
  const page2 = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/ledger?limit=4&cursor=${page1.json.nextCursor}`)
  t.equal(page2.json.entries.length, 2)
  t.notOk(page2.json.nextCursor)
  const gifts = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/ledger?types=gift`)
  t.equal(gifts.json.entries.length, 2)
  const badType = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/ledger?types=bribe`)
  t.equal(badType.status, 400)
  t.match(badType.json.error.message, /bribe/)
  const badCursor = await api(gw.url, gw.apiKey, 'GET', `/billing/organizations/${gw.organizationId}/ledger?cursor=nope`)
  t.equal(badCursor.status, 400)

  const verified = await api(gw.url, gw.apiKey, 'POST', `/billing/organizations/${gw.organizationId}/ledger/verify`)
  t.same(verified.json, { ok: true, accountsChecked: 1, mismatches: [], brokenEntries: [] })
  t.equal((await api(gw.url, gw.apiKey, 'POST', '/billing/admin/verify')).status, 403, 'verifying every account is for platform administrators')

  // The command: against the same database (PostgreSQL only: a PGlite folder is held by this process).
  if (process.env.DATABASE_URL) {
    const lines: string[] = []
    const code = await runVerifyLedgerCli(['--database-url', gw.testDb.options.url!], {}, (l) => lines.push(l))
    t.equal(code, 0, 'the verify command exits 0')
    t.match(JSON.parse(lines[0]), { ok: true, accountsChecked: 1 })
    // A balance forced out of line (triggers disabled, as only a superuser could) is caught.
    await gw.db.orm.em.fork().transactional(async (em) => {
      await em.execute('alter table billing_account disable trigger billing_account_guard', [], 'run')
      await em.execute('update billing_account set balance = balance + 1', [], 'run')
      await em.execute('alter table billing_account enable trigger billing_account_guard', [], 'run')
    })
    const out: string[] = []
    t.equal(await runVerifyLedgerCli(['--database-url', gw.testDb.options.url!], {}, (l) => out.push(l)), 1, 'exit 1 on a mismatch')
    t.match(JSON.parse(out[0]), { ok: false, mismatches: [{ balance: '4750000000001', sum: '4750000000000' }] })
    const bin = spawnSync(process.execPath, ['--import=./test-support/tsx-register.mjs', '--conditions=tollgate-src', 'packages/plugin-billing-stripe/src/ledger/verify-cli.ts', '--database-url', gw.testDb.options.url!], { cwd: new URL('../../../', import.meta.url).pathname, encoding: 'utf8' })
    t.equal(bin.status, 1, 'the executable reports the mismatch with exit code 1')
    await gw.db.orm.em.fork().transactional(async (em) => {
      await em.execute('alter table billing_account disable trigger billing_account_guard', [], 'run')
      await em.execute('update billing_account set balance = balance - 1', [], 'run')
      await em.execute('alter table billing_account enable trigger billing_account_guard', [], 'run')
    })
  }
  t.equal(await runVerifyLedgerCli([], {}, () => undefined), 2, 'usage error without a database')
  await assertLedgerInvariant(t, gw)
})

t.test('the usage-event worker leaves a request that just completed to its serving instance, and settles it once the grace has passed', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  const gw = await billingGateway(fake, { settlement: { flushIntervalMs: 10, workerIntervalMs: 50, workerGraceMs: 1500 } })
  t.teardown(() => gw.close())
  const ledger = gw.services.get(billingLedgerRef)
  await buyCredits(gw, gw.organizationId, 10n ** 12n)
  // An orphan: a usage event whose serving instance never wrote its settlement (it "crashed").
  const completed = Date.now()
  const orphan = await writeOrphan(gw, new Date(completed - 5))
  // The scheduled worker runs every 50 ms; while the event is younger than the grace it leaves it.
  await new Promise((r) => setTimeout(r, 500))
  if (Date.now() - completed < 1400) t.equal(await ledger.settledRequest(orphan), undefined, 'not settled by the worker within the grace')
  let settled = await ledger.settledRequest(orphan)
  for (let i = 0; i < 300 && !settled; i++) {
    await new Promise((r) => setTimeout(r, 50))
    settled = await ledger.settledRequest(orphan)
  }
  t.equal(settled?.cost, 1000n * 1_000_000n, 'settled by the scheduled worker once the grace had passed')
  t.ok(Date.now() - completed >= 1500, 'not before the grace')
  await assertLedgerInvariant(t, gw)
})
