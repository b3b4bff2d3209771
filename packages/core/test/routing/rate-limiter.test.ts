import t from 'tap'
import { CORE_ENTITIES, CORE_MIGRATIONS, migrateDatabase, openDatabase, RateLimiter } from '@tollgate/core'
import { createTestDatabase } from '@tollgate/core/testing'

/** The lease-based limiter on a real database (PGlite, or PostgreSQL with DATABASE_URL). */

const testDb = await createTestDatabase()
const dbA = await openDatabase(testDb.options, CORE_ENTITIES, CORE_MIGRATIONS)
await migrateDatabase(dbA)
t.teardown(async () => {
  await dbA.close()
  await testDb.drop()
})
let clock = 1_800_000_000_000 + 5_000

t.test('instances together never take more than the limit, and slices spare the database', async (t) => {
  const a = new RateLimiter(dbA, { now: () => clock, leaseFraction: 1 / 10 })
  const b = new RateLimiter(dbA, { now: () => clock, leaseFraction: 1 / 10 })
  const claim = [{ key: 'k:r', limit: 100, amount: 1 }]
  let ok = 0
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).take(claim)))
  for (const r of results) if (r === undefined) ok++
  t.ok(ok <= 100, `at most the limit across both (${ok})`)
  t.ok(ok >= 80, `slices left unused are at most one per instance (${ok})`)
  const [row] = await dbA.orm.em.fork().execute<{ used: string }[]>("select used from core_rate_limit_counter where key = 'k:r'", [], 'all')
  t.equal(Number(row.used), 100, 'the shared counter never passes the limit')
  const denied = results.find((r) => r !== undefined)!
  t.equal(denied.key, 'k:r')
  t.ok(denied.retryAfter >= 1 && denied.retryAfter <= 60)
  t.ok(a.tryTakeLocal([{ key: 'other', limit: 10, amount: 1 }]) === false, 'nothing leased yet: the async path must run')

  clock += 60_000
  t.equal(await a.take(claim), undefined, 'a new window starts afresh')
})

t.test('all-or-nothing, give back, and token debts', async (t) => {
  const a = new RateLimiter(dbA, { now: () => clock, leaseFraction: 1 })
  t.equal(await a.take([{ key: 'x:r', limit: 10, amount: 1 }, { key: 'x:t', limit: 100, amount: 60 }]), undefined)
  const refused = await a.take([{ key: 'x:r', limit: 10, amount: 1 }, { key: 'x:t', limit: 100, amount: 60 }])
  t.equal(refused?.key, 'x:t')
  t.ok(a.tryTakeLocal([{ key: 'x:r', limit: 10, amount: 8 }]), 'the refused request gave its request unit back (9 of 10 left)')
  a.give('x:t', 30)
  t.equal(await a.take([{ key: 'x:t', limit: 100, amount: 60 }]), undefined, 'tokens given back are usable again')
  a.charge('x:t', 50)
  t.ok(await a.take([{ key: 'x:t', limit: 100, amount: 1 }]), 'a debt above the limit refuses until the window ends')
  t.ok(await a.take([{ key: 'big:t', limit: 100, amount: 101 }]), 'a request larger than the limit is never served')
})
