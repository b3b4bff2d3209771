import t from 'tap'
import pino from 'pino'
import { CORE_ENTITIES, CORE_MIGRATIONS, WorkerRunner, migrateDatabase, openDatabase } from '@tollgate/core'
import { createTestDatabase } from '@tollgate/core/testing'
import { migratedCoreDatabase } from '../support/core-database.ts'

const log = pino({ level: 'silent' })

t.test('a worker runs on one instance at a time', { skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL (two instances, two connections)' }, async (t) => {
  const testDb = await createTestDatabase()
  const dbA = await openDatabase(testDb.options, CORE_ENTITIES, CORE_MIGRATIONS)
  const dbB = await openDatabase(testDb.options, CORE_ENTITIES, CORE_MIGRATIONS)
  t.teardown(async () => {
    await dbA.close()
    await dbB.close()
    await testDb.drop()
  })
  await migrateDatabase(dbA)
  let running = 0
  let maxRunning = 0
  let runs = 0
  const job = {
    name: 'test.singleton',
    intervalMs: 60_000,
    async run() {
      running++
      runs++
      maxRunning = Math.max(maxRunning, running)
      await new Promise((r) => setTimeout(r, 100))
      running--
    },
  }
  const a = new WorkerRunner(dbA, log)
  const b = new WorkerRunner(dbB, log)
  a.add(job)
  b.add(job)
  const results = await Promise.all([a.runOnce('test.singleton'), b.runOnce('test.singleton'), a.runOnce('test.singleton'), b.runOnce('test.singleton')])
  t.equal(maxRunning, 1, 'never two runs at once across instances')
  t.equal(results.filter((r) => r === undefined).length, 4 - runs, 'the others skipped their turn')
  t.ok(runs >= 1)
  await a.stop()
  await b.stop()
})

t.test('a worker run happens in a transaction and can ask to run again', async (t) => {
  const { db } = await migratedCoreDatabase(t)
  const runner = new WorkerRunner(db, log)
  let calls = 0
  runner.add({
    name: 'test.again',
    intervalMs: 60_000,
    async run({ em }) {
      calls++
      const [row] = await em.execute<{ locked: boolean }[]>('select count(*) > 0 as locked from pg_locks where locktype = ?', ['advisory'], 'all')
      t.equal(row.locked, true, 'the advisory lock is held during the run')
      return calls < 3
    },
  })
  t.equal(await runner.runOnce('test.again'), true)
  t.equal(await runner.runOnce('test.again'), true)
  t.equal(await runner.runOnce('test.again'), false)
  await runner.stop()
})
