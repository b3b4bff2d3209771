import t, { type Test } from 'tap'
import pino from 'pino'
import { createGateway, type Gateway, type UsageEvent } from '@tollgate/core'
import { createTestDatabase, type TestDatabase } from '@tollgate/core/testing'
import { analyticsPlugin, CUBES, GRAINS, rollUpBatch } from '@tollgate/plugin-analytics'
import { drainRollups, seeded, usageEvent, writeEvents } from '../support.ts'

/**
 * Must show: rollups are exactly once. The rollup upsert and the cursor advance are one
 * transaction, so a worker that dies mid-batch and restarts, and workers racing each other, still
 * add up to the raw events — in every cube and at every grain.
 */

const ORG = '0b7a3c1e-0000-4000-8000-00000000000a'
const OTHER_ORG = '0b7a3c1e-0000-4000-8000-00000000000b'
/** Zones with a local-day tier: their tiers must be exactly once too (backfilled, then kept by every batch). */
const ZONES = ['Asia/Kathmandu', 'America/New_York']

function events(count: number, seed: number, prefix: string): UsageEvent[] {
  const rand = seeded(seed)
  const start = Date.parse('2026-06-01T00:00:00Z')
  return Array.from({ length: count }, (_, i) =>
    usageEvent({
      requestId: `${prefix}-${i}`,
      occurredAt: new Date(start + Math.floor(rand() * 10 * 86_400_000)),
      organizationId: rand() < 0.8 ? ORG : OTHER_ORG,
      projectId: `0b7a3c1e-0000-4000-8000-0000000001${String(Math.floor(rand() * 3)).padStart(2, '0')}`,
      apiKeyId: `0b7a3c1e-0000-4000-8000-0000000002${String(Math.floor(rand() * 7)).padStart(2, '0')}`,
      userId: `0b7a3c1e-0000-4000-8000-0000000003${String(Math.floor(rand() * 4)).padStart(2, '0')}`,
      provider: rand() < 0.5 ? 'oai' : 'anth',
      model: `m-${Math.floor(rand() * 5)}`,
      appName: rand() < 0.5 ? 'app-x' : undefined,
      inputTokens: Math.floor(rand() * 4000),
      outputTokens: Math.floor(rand() * 1000),
      cost: BigInt(Math.floor(rand() * 1e12)),
      marketCost: BigInt(Math.floor(rand() * 2e12)),
      latencyMs: Math.floor(rand() * 30_000),
      ttftMs: rand() < 0.5 ? Math.floor(rand() * 3000) : undefined,
      status: rand() < 0.1 ? 502 : 200,
    }),
  )
}

async function openGateway(testDb: TestDatabase): Promise<Gateway> {
  return createGateway({
    logger: pino({ level: 'silent' }),
    database: testDb.options,
    security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64') },
    usage: { flushIntervalMs: 20 },
    models: [{ name: 'mock-echo', provider: 'mock', prices: { input: '1', output: '2' } }],
    plugins: [analyticsPlugin({ rollup: { intervalMs: 3_600_000, batchSize: 400, localDayZones: ZONES } })],
  })
}


/** Every cube at every grain must hold exactly the raw events' totals (computed here, in SQL over the raw table). */
async function assertExact(t: Test, gw: Gateway, label: string): Promise<void> {
  const em = gw.db.orm.em.fork()
  const [raw] = await em.execute<Record<string, string>[]>(
    `select count(*)::text as requests, sum(cost)::text as cost, sum(market_cost)::text as market_cost, sum(input_tokens)::text as input_tokens,
            sum(output_tokens)::text as output_tokens, count(*) filter (where status >= 400)::text as errors, count(ttft_ms)::text as ttft_count
       from core_usage_event`,
    [],
    'all',
  )
  // A rollup table's totals over the rows where `column` = value, as the raw query above names them.
  const sumsOf = async (table: string, column: string, value: unknown) => {
    const [r] = await em.execute<Record<string, string>[]>(
      `select sum(requests)::text as requests, sum(cost)::text as cost, sum(market_cost)::text as market_cost, sum(input_tokens)::text as input_tokens,
              sum(output_tokens)::text as output_tokens, sum(errors)::text as errors, sum(ttft_count)::text as ttft_count
         from ${table} where ${column} = ?`,
      [value],
      'all',
    )
    return r
  }
  let mismatches = 0
  for (const cube of Object.keys(CUBES)) {
    for (const grain of GRAINS) {
      const r = await sumsOf(`analytics_rollup_${cube}`, 'grain', grain)
      if (JSON.stringify(r) !== JSON.stringify(raw)) {
        mismatches++
        t.fail(`${label}: cube ${cube} grain ${grain}: ${JSON.stringify(r)} vs raw ${JSON.stringify(raw)}`)
      }
    }
  }
  t.equal(mismatches, 0, `${label}: every cube and grain equals the raw events (${raw.requests} events)`)
  const zones = (await em.execute<{ time_zone: string }[]>('select time_zone from analytics_local_day_zone order by 1', [], 'all')).map((r) => r.time_zone)
  t.same(zones, [...ZONES].sort(), `${label}: the configured zones have a local-day tier`)
  let tierMismatches = 0
  for (const cube of Object.keys(CUBES)) {
    for (const zone of zones) {
      const r = await sumsOf(`analytics_local_day_${cube}`, 'time_zone', zone)
      if (JSON.stringify(r) !== JSON.stringify(raw)) {
        tierMismatches++
        t.fail(`${label}: local-day tier ${cube} ${zone}: ${JSON.stringify(r)} vs raw ${JSON.stringify(raw)}`)
      }
    }
  }
  t.equal(tierMismatches, 0, `${label}: every cube's local-day tier equals the raw events`)
}


t.test('a worker killed between batches (and mid-batch) and restarted counts every event once', { timeout: 180_000 }, async (t) => {
  const testDb = await createTestDatabase()
  const open: Gateway[] = []
  t.teardown(async () => {
    for (const gw of open) await gw.close()
    await testDb.drop()
  })
  const first = await openGateway(testDb)
  await writeEvents(first, events(1500, 1, 'crash'))
  // The reader sees only events below the cluster's snapshot xmin (other test files' transactions
  // count): wait, bounded, until all 1500 are visible, so the batches below are full.
  for (let deadline = Date.now() + 30_000; ; ) {
    const [{ visible }] = await first.db.orm.em
      .fork()
      .execute<{ visible: number }[]>('select count(*)::int as visible from core_usage_event where tx_id < pg_snapshot_xmin(pg_current_snapshot())', [], 'all')
    if (visible >= 1500) break
    if (Date.now() > deadline) throw new Error(`only ${visible} of 1500 events visible to the reader`)
    await new Promise((r) => setTimeout(r, 50))
  }
  // Two batches commit, then the instance dies after writing a third batch's rollups but before
  // the commit: the transaction rolls back and takes the upsert with it.
  t.equal((await rollUpBatch(first.usage, { limit: 400 })).count, 400)
  t.equal((await rollUpBatch(first.usage, { limit: 400 })).count, 400)
  await t.rejects(
    rollUpBatch(first.usage, {
      limit: 400,
      beforeCommit: () => {
        throw new Error('instance killed')
      },
    }),
    /instance killed/,
  )
  const em = first.db.orm.em.fork()
  const [{ done }] = await em.execute<{ done: number }[]>('select sum(requests)::int as done from analytics_rollup_org where grain = 900', [], 'all')
  t.equal(done, 800, 'only the two committed batches are in the rollups')
  await first.close()

  // A new instance on the same database picks up where the committed cursor is.
  const second = await openGateway(testDb)
  open.push(second)
  await drainRollups(second)
  await assertExact(t, second, 'after restart')
  // Running again finds nothing new.
  t.equal(await second.workers.runOnce('analytics.rollup'), false, 'caught up: nothing is rolled up twice')
  await assertExact(t, second, 'after an idle run')
})

t.test('two workers racing on one database count every event once', { timeout: 180_000 }, async (t) => {
  const testDb = await createTestDatabase()
  const open: Gateway[] = []
  t.teardown(async () => {
    for (const gw of open) await gw.close()
    await testDb.drop()
  })
  const a = await openGateway(testDb)
  open.push(a)
  // On PostgreSQL a second instance shares the database; PGlite is one process's, so there the
  // race is between concurrent runs in one instance.
  const b = process.env.DATABASE_URL ? await openGateway(testDb) : a
  if (b !== a) open.push(b)
  await writeEvents(a, events(1200, 2, 'race-a'))
  const loop = async (run: () => Promise<number>) => {
    let total = 0
    for (let idle = 0; idle < 3; ) {
      const n = await run()
      total += n
      idle = n === 0 ? idle + 1 : 0
    }
    return total
  }
  // The scheduled worker path (advisory lock) and direct batch consumers, all at once, while more events arrive.
  const racing = Promise.all([
    loop(async () => ((await a.workers.runOnce('analytics.rollup')) === true ? 1 : 0)),
    loop(async () => ((await b.workers.runOnce('analytics.rollup')) === true ? 1 : 0)),
    loop(async () => (await rollUpBatch(a.usage, { limit: 150, slice: 64 })).count),
    loop(async () => (await rollUpBatch(b.usage, { limit: 170 })).count),
    writeEvents(b, events(800, 3, 'race-b')).then(() => 0),
  ])
  await racing
  await drainRollups(a)
  await assertExact(t, a, 'after the race')
})
