import t from 'tap'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { billingControlRef, billingLedgerRef } from '@tollgate/plugin-billing-stripe'
import { assertLedgerInvariant, boundTokens, buyCredits, chat, createTestDatabase, extraInstance, maxCostFor, MODEL, settleAll, startFakeOpenAI } from './budgets-support.ts'

const TTL_MS = 3000
const PROMPT = 'hold this request'
const MAX_TOKENS = 100

/** Starts a gateway in a child process on the shared database; resolves with its URL and billing instance id. */
async function startChild(databaseUrl: string, upstream: string): Promise<{ child: ChildProcess; url: string; instanceId: string }> {
  const child = spawn(process.execPath, ['--import=./test-support/tsx-register.mjs', '--conditions=tollgate-src', 'packages/plugin-billing-stripe/test/budgets-crash-child.ts', databaseUrl, upstream, String(TTL_MS)], {
    cwd: new URL('../../../', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => { throw new Error('child gateway exited before listening') })])) as [string]
  return { child, ...JSON.parse(line) }
}

async function leaseRows(db: { orm: { em: { fork(): any } } }, instanceId?: string): Promise<{ pool_key: string; instance_id: string; amount: string }[]> {
  return db.orm.em
    .fork()
    .execute(`select pool_key, instance_id, amount::text as amount from billing_lease ${instanceId ? 'where instance_id = ?' : ''}`, instanceId ? [instanceId] : [], 'all')
}

const needsPg = process.env.DATABASE_URL ? false : 'needs DATABASE_URL (a second process shares the database; PGlite is in-process)'

t.test('kill -9 of an instance mid-request: after restart and the release window nothing stays reserved', { skip: needsPg }, async (t) => {
  let bounds: { input: number; output: number } | undefined
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  // The "hold" request hangs at the upstream until the test ends; every other one costs its maximum.
  fake.setScript((req) => (JSON.stringify(req.body).includes('hold') ? { hangBeforeHeaders: true } : { text: 'ok', usage: { promptTokens: bounds!.input, completionTokens: bounds!.output } }))
  const testDb = await createTestDatabase()
  t.teardown(() => testDb.drop())
  // This process's own instance seeds the organization and runs the sweep.
  const main = await extraInstance(testDb, fake, { leases: { ttlMs: TTL_MS } })
  t.teardown(() => main.close())
  const user = await main.identity.createUser({ email: `owner-${Date.now()}@example.test` })
  const org = await main.identity.createOrganization({ name: 'Crash Org', ownerUserId: user.id })
  const project = await main.identity.createProject({ organizationId: org.id, name: 'p' })
  const key = (await main.identity.createApiKey({ organizationId: org.id, projectId: project.id, ownerUserId: user.id, name: 'k' })).secret
  bounds = boundTokens(main, PROMPT, MAX_TOKENS)
  const m = maxCostFor(main, PROMPT, MAX_TOKENS)
  await buyCredits(main, org.id, m * 10n)

  const first = await startChild(testDb.options.url!, fake.baseUrl)
  const held = chat(first.url, key, { model: MODEL, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: PROMPT }] }).catch((err) => err)
  await fake.waitFor(() => fake.requests.length === 1, 10_000)
  const leased = await leaseRows(main.db, first.instanceId)
  t.equal(leased.length, 1, 'the child leased a slice of the balance for the request')
  t.ok(BigInt(leased[0].amount) >= m, 'its lease covers the reservation')

  first.child.kill('SIGKILL')
  await once(first.child, 'exit')
  t.equal((await leaseRows(main.db, first.instanceId)).length, 1, 'right after the crash the dead lease still counts (it may not be spent twice)')
  const heldResult = await held
  t.ok(heldResult instanceof Error || heldResult.status >= 500, 'the client of the killed instance got no answer')

  // Restart: a new process (a new instance id) on the same database.
  const second = await startChild(testDb.options.url!, fake.baseUrl)
  t.teardown(() => second.child.kill('SIGKILL'))
  t.not(second.instanceId, first.instanceId)

  // The release window: the lease expires after its TTL and the settlement worker releases it.
  const deadline = Date.now() + TTL_MS * 4 + 5_000
  while ((await leaseRows(main.db, first.instanceId)).length > 0 && Date.now() < deadline) {
    await main.services.get(billingControlRef).settleUsageEvents()
    await new Promise((r) => setTimeout(r, 100))
  }
  t.same(await leaseRows(main.db, first.instanceId), [], 'the crashed instance holds nothing after the release window')

  // The whole balance is usable again: ten maximum-cost requests on the restarted instance.
  const after = []
  for (let i = 0; i < 10; i++) after.push(await chat(second.url, key, { model: MODEL, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'go' }] }))
  t.same(
    after.map((r) => r.status),
    Array(10).fill(200),
    'every credit the dead instance had reserved can be spent again',
  )
  const eleventh = await chat(second.url, key, { model: MODEL, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'go' }] })
  t.equal(eleventh.status, 402, 'and not one credit more')

  second.child.kill('SIGTERM')
  await once(second.child, 'exit')
  await settleAll(main)
  const balance = await main.services.get(billingLedgerRef).balance({ organizationId: org.id })
  t.ok(balance >= 0n, `balance never negative (${balance})`)
  await assertLedgerInvariant(t, main)
})
