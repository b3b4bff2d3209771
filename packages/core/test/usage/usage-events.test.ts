import t from 'tap'
import pino from 'pino'
import { CORE_ENTITIES, CORE_MIGRATIONS, EventBus, UsageEventReader, compareUsageCursors, UsageWriter, migrateDatabase, openDatabase, type UsageEvent } from '@tollgate/core'
import { createTestDatabase } from '@tollgate/core/testing'
import { migratedCoreDatabase } from '../support/core-database.ts'

const log = pino({ level: 'silent' })

function event(i: number, org = '00000000-0000-4000-8000-000000000001'): UsageEvent {
  return {
    requestId: `req-${i}`,
    occurredAt: new Date(1_700_000_000_000 + i * 1000),
    organizationId: org,
    model: 'm',
    provider: 'p',
    inputTokens: i,
    outputTokens: 2 * i,
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    cost: BigInt(i) * 1_000_000_000_000n,
    marketCost: BigInt(i) * 2_000_000_000_000n,
    latencyMs: 10,
    status: 200,
    streaming: false,
    estimated: false,
  }
}

t.test('usage events: batched writes, exactly-once consumption', async (t) => {
  const testDb = await createTestDatabase()
  const db = await openDatabase(testDb.options, CORE_ENTITIES, CORE_MIGRATIONS)
  t.teardown(async () => {
    await db.close()
    await testDb.drop()
  })
  t.same(await migrateDatabase(db), ['core:0001_init', 'core:0002_routing', 'core:0003_model_output_limit'], 'migrations run from empty')
  t.same(await migrateDatabase(db), [], 'a second run applies nothing')
  await db.orm.em.fork().execute('create table test_sink (request_id text primary key, cost numeric not null)', [], 'run')

  const bus = new EventBus(log)
  const recorded: number[] = []
  bus.on('usage.recorded', ({ events }) => void recorded.push(events.length))
  const writer = new UsageWriter(db, bus, log, { batchSize: 100, flushIntervalMs: 10_000 })
  for (let i = 1; i <= 1000; i++) writer.add(event(i))
  writer.add(event(5)) // a retried request id is written once
  await writer.close()
  const [{ n }] = await db.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from core_usage_event', [], 'all')
  t.equal(n, 1000, 'every event written once, nothing lost on close')
  t.equal(recorded.reduce((a, b) => a + b, 0), 1001, 'usage.recorded emitted for every batch')

  const reader = new UsageEventReader(db)
  let failOnce = true
  // A consumer sees only events below every open transaction's snapshot (cluster-wide on a shared
  // PostgreSQL), so an empty batch can mean "not visible yet": keep polling, bounded, until the
  // sink holds everything.
  const sinkCount = async () => (await db.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from test_sink', [], 'all'))[0].n
  const deadline = Date.now() + 60_000
  const consume = async () => {
    let total = 0
    for (;;) {
      let n: number
      try {
        n = await reader.consume('test-sink', 64, async (events, em) => {
          for (const e of events) await em.execute('insert into test_sink (request_id, cost) values (?, ?)', [e.requestId, e.cost.toString()], 'run')
          if (failOnce && total > 200) {
            failOnce = false
            throw new Error('worker killed between batches')
          }
        })
      } catch (err) {
        if ((err as Error).message !== 'worker killed between batches') throw err
        continue
      }
      if (n === 0) {
        if ((await sinkCount()) >= 1000 || Date.now() > deadline) return total
        await new Promise((r) => setTimeout(r, 20))
        continue
      }
      total += n
    }
  }
  const [a, b] = await Promise.all([consume(), consume()])
  t.equal(a + b, 1000, 'two racing consumers together handle every event once')
  t.equal(failOnce, false, 'a batch failed and was rolled back')
  const [sink] = await db.orm.em.fork().execute<{ n: number; cost: string }[]>('select count(*)::int as n, sum(cost)::text as cost from test_sink', [], 'all')
  t.equal(sink.n, 1000)
  t.equal(sink.cost, (500500n * 1_000_000_000_000n).toString(), 'derived totals equal the raw events exactly')
  t.equal(await reader.consume("test-sink", 64, async () => void t.fail("nothing left to read")), 0)

  // Cursors can be read, compared and dropped (a consumer merged into another retires its own).
  t.equal(await reader.cursor('never-ran'), undefined, 'no cursor before a first consume')
  let partial = 0
  for (let i = 0; i < 200 && partial < 10; i++) partial += await reader.consume('test-partial', 10 - partial, async () => {})
  const done = await reader.cursor('test-sink')
  const behind = await reader.cursor('test-partial')
  t.ok(done && behind, 'both consumers have cursors')
  t.ok(compareUsageCursors(behind!, done!) < 0, 'the consumer that read 10 events is behind the one that read them all')
  t.ok(compareUsageCursors(done!, behind!) > 0)
  t.equal(compareUsageCursors(done!, { ...done! }), 0)
  await reader.dropCursor('test-partial')
  t.equal(await reader.cursor('test-partial'), undefined, 'dropped')
  t.ok(await reader.cursor('test-sink'), 'other cursors untouched')

  // A projected read returns just the fields asked for (plus id and requestId), converted alike.
  const full: Record<string, unknown>[] = []
  const projected: Record<string, unknown>[] = []
  for (let i = 0; i < 200 && projected.length < 5; i++) {
    await reader.consume('test-projection', 5 - projected.length, async (events) => void projected.push(...events), { fields: ['cost', 'occurredAt', 'projectId'] })
  }
  for (let i = 0; i < 200 && full.length < 5; i++) await reader.consume('test-full', 5 - full.length, async (events) => void full.push(...events))
  t.equal(projected.length, 5)
  t.same(Object.keys(projected[0]).sort(), ['cost', 'id', 'occurredAt', 'projectId', 'requestId'], 'only the fields asked for, and the identity')
  t.same(projected, full.map((e) => ({ id: e.id, requestId: e.requestId, cost: e.cost, occurredAt: e.occurredAt, projectId: e.projectId })), 'the same values as a full read')
  t.equal(typeof projected[0].cost, 'bigint')
  t.ok(projected[0].occurredAt instanceof Date)
  await t.rejects(reader.consume('test-bad-field', 5, async () => {}, { fields: ['nope' as never] }), /unknown usage event field "nope"/)
})

t.test('usage events: an event committed late with a lower id is not skipped (PostgreSQL)', { skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL (concurrent transactions)' }, async (t) => {
  const { db, testDb } = await migratedCoreDatabase(t)
  const pg = (await import('pg')).default
  const slow = new pg.Client({ connectionString: testDb.options.url })
  await slow.connect()
  t.teardown(() => slow.end())
  await slow.query('begin')
  await slow.query(`insert into core_usage_event (request_id, occurred_at, organization_id, latency_ms, status, streaming) values ('late', now(), '00000000-0000-4000-8000-000000000001', 1, 200, false)`)
  const bus = new EventBus(log)
  const writer = new UsageWriter(db, bus, log)
  writer.add(event(1))
  await writer.close()
  const reader = new UsageEventReader(db)
  const seen: string[] = []
  await reader.consume('late-test', 100, async (events) => void seen.push(...events.map((e) => e.requestId)))
  t.same(seen, [], 'nothing is read past a transaction still running')
  await slow.query('commit')
  // The snapshot's xmin is cluster-wide: transactions of other databases (parallel test files)
  // can hold reading back for a moment, never make it skip. Poll, bounded.
  const deadline = Date.now() + 20_000
  while (seen.length < 2 && Date.now() < deadline) {
    await reader.consume('late-test', 100, async (events) => void seen.push(...events.map((e) => e.requestId)))
    if (seen.length < 2) await new Promise((r) => setTimeout(r, 50))
  }
  t.same(seen.sort(), ['late', 'req-1'], 'both events are read once the late one commits')
})

t.test('usage events: what arrives during a write waits for the next tick instead of a second small INSERT', async (t) => {
  const { db } = await migratedCoreDatabase(t)
  // Every INSERT waits for the gate, so events can be added while one is in flight.
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  const gated = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== 'orm') return Reflect.get(target, prop, receiver)
      const em = {
        fork: () => {
          const forked = target.orm.em.fork()
          const kysely = forked.getKysely()
          return { getKysely: () => ({ executeQuery: async (q: Parameters<typeof kysely.executeQuery>[0]) => {
                await gate
                return kysely.executeQuery(q)
              }, }) }
        },
      }
      return { em }
    },
  })
  const writer = new UsageWriter(gated, new EventBus(log), log, { batchSize: 100, flushIntervalMs: 60_000 })
  const inserts: number[] = []
  writer.onFlush = (count) => void inserts.push(count)
  for (let i = 1; i <= 100; i++) writer.add(event(i, '00000000-0000-4000-8000-000000000002'))
  // The full batch went out; 30 more arrive while it is being written.
  for (let i = 101; i <= 130; i++) writer.add(event(i, '00000000-0000-4000-8000-000000000002'))
  open()
  for (let i = 0; i < 500 && inserts.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
  await new Promise((r) => setTimeout(r, 50))
  t.same(inserts, [100], 'one INSERT for the full batch; the 30 late events were not sent at once on their own')
  t.equal(writer.queueDepth, 30, 'they wait for the next tick')
  await writer.flush()
  t.same(inserts, [100, 30], 'flush() writes the rest')
  const [{ n }] = await db.orm.em.fork().execute<{ n: number }[]>("select count(*)::int as n from core_usage_event where organization_id = '00000000-0000-4000-8000-000000000002'", [], 'all')
  t.equal(n, 130)
  await writer.close()
})

t.test('usage events: completedBefore ends a batch before the first recent event, which is read again later', async (t) => {
  const { db } = await migratedCoreDatabase(t)
  const writer = new UsageWriter(db, new EventBus(log), log, { flushIntervalMs: 60_000 })
  // event(i) starts at 1_700_000_000_000 + i s and takes 10 ms.
  for (let i = 1; i <= 5; i++) writer.add(event(1000 + i, '00000000-0000-4000-8000-000000000003'))
  await writer.close()
  const reader = new UsageEventReader(db)
  const seen: string[] = []
  const read = (completedBefore?: Date) => reader.consume('test-completed-before', 10, async (events) => void seen.push(...events.map((e) => e.requestId)), { completedBefore })
  const startOf = (i: number) => 1_700_000_000_000 + i * 1000
  // Events become visible to consumers once no older transaction runs: poll, bounded, for the first batch.
  let n = 0
  for (let i = 0; i < 300 && n === 0; i++) {
    // req-1003 completes 10 ms after it starts: a cutoff 5 ms after its start holds it back.
    n = await read(new Date(startOf(1003) + 5))
    if (n === 0) await new Promise((r) => setTimeout(r, 20))
  }
  t.equal(n, 2, 'the batch ends before the first request that completed at or after the cutoff')
  t.same(seen, ['req-1001', 'req-1002'])
  t.equal(await read(new Date(startOf(1003) + 5)), 0, 'a batch whose first event is recent handles nothing')
  t.same(seen, ['req-1001', 'req-1002'], 'and the cursor stays put')
  t.equal(await read(new Date(startOf(1003) + 10)), 0, 'completing exactly at the cutoff is recent')
  t.equal(await read(new Date(startOf(1004) + 11)), 2, 'a later cutoff lets the held event and the next one through')
  t.equal(await read(), 1, 'no cutoff reads to the newest event')
  t.same(seen, ['req-1001', 'req-1002', 'req-1003', 'req-1004', 'req-1005'], 'each event exactly once, in order')
})
