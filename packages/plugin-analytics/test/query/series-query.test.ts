import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { AnalyticsServices, analyticsPlugin } from '@tollgate/plugin-analytics'
import { formatPicoUsd } from '../../src/query/measures.ts'
import { parseTimeRange } from '../../src/query/params.ts'

/**
 * Must show: the money text the database formats for a series (querySeries: numeric sums scaled by
 * 10^-12 and trimmed) is exactly formatPicoUsd's, on PostgreSQL and on PGlite — zero, negatives,
 * sub-cent amounts, whole dollars and amounts far beyond 2^63 picodollars. And the totals a series
 * adds up in Node stay those of exact sums when counts pass 2^53.
 */
const gw = await createTestGateway({ plugins: [analyticsPlugin({ rollup: { intervalMs: 3_600_000 } })] })
t.teardown(() => gw.close())

t.test('database money text equals formatPicoUsd', async (t) => {
  const values = [0n, 1n, 9n, 10n, 150_000n, 999_999_999_999n, 1_000_000_000_000n, 1_000_000_000_001n, 1_230_000_000_000n, 123_456_789_012_345_678_901n, 10n ** 30n]
  let x = 11n
  for (let i = 0; i < 200; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n
    values.push(x >> BigInt(i % 60))
  }
  const all = [...values, ...values.map((v) => -v)]
  const rows = await gw.db.orm.em
    .fork()
    .execute<{ i: number; usd: string }[]>(`select i::int as i, trim_scale(v * 0.000000000001)::text as usd from unnest(?::numeric[]) with ordinality as u(v, i)`, [`{${all.join(',')}}`], 'all')
  t.equal(rows.length, all.length, 'one answer per amount')
  const differ = rows.filter((r) => r.usd !== formatPicoUsd(all[r.i - 1])).map((r) => [all[r.i - 1].toString(), r.usd])
  t.same(differ, [], `all ${all.length} amounts format alike`)
})

t.test('series totals past 2^53 are the exact sums, rounded once', async (t) => {
  // Three days of one model: 2^53, 1 and 1 input tokens. Added as doubles that is 2^53 (each +1
  // rounds away); the exact sum 2^53 + 2 is a double itself.
  const em = gw.db.orm.em.fork()
  const days = ['2026-02-01', '2026-02-02', '2026-02-03']
  const tokens = ['9007199254740992', '1', '1']
  for (let i = 0; i < 3; i++) {
    await em.execute(
      `insert into analytics_rollup_model (organization_id, grain, bucket_start, provider, model, requests, input_tokens) values (?, 86400, ?::timestamptz, 'p', 'huge', 1, ?)`,
      [gw.organizationId, `${days[i]}T00:00:00Z`, tokens[i]],
      'run',
    )
  }
  const range = parseTimeRange({ from: '2026-02-01', to: '2026-02-03', timezone: 'UTC', granularity: 'day' }, Date.now(), { window: '30d' })
  const body = await gw.services.get(AnalyticsServices.service).activity({ organizationId: gw.organizationId }, range, 'model')
  t.same(
    body.series.map((s) => s.inputTokens),
    [2 ** 53, 1, 1],
    'each day as stored',
  )
  t.equal(body.ranking[0].inputTokens, 2 ** 53 + 2, 'the group total is the exact sum')
  t.equal(body.totals.inputTokens, 2 ** 53 + 2, 'the grand total is the exact sum')
})

t.test('a daily series read from the local-day tier as it is: one model under two providers is one cell, summed exactly', async (t) => {
  // The tier's rows are sent without a database aggregate when the grouping is the tier's own
  // dimension (querySeries): Node adds the rows of a cell. Cost and market cost large enough that a
  // double would round them, and one model served by two providers on the same local day.
  const em = gw.db.orm.em.fork()
  const zone = 'Asia/Kolkata'
  await em.execute(`insert into analytics_local_day_zone (time_zone) values (?)`, [zone], 'run')
  const rows: [day: string, provider: string, model: string, requests: number, cost: string, market: string][] = [
    ['2026-03-01', 'openai', 'shared', 3, '123456789012345678', '223456789012345679'],
    ['2026-03-01', 'azure', 'shared', 2, '900000000000000001', '900000000000000003'],
    ['2026-03-01', 'openai', 'solo', 1, '1500000', '2000000'],
    ['2026-03-02', 'openai', 'shared', 4, '7', '5'],
  ]
  for (const [day, provider, model, requests, cost, market] of rows) {
    await em.execute(
      `insert into analytics_local_day_model (organization_id, time_zone, day, provider, model, requests, errors, input_tokens, latency_sum_ms, cost, market_cost) values (?, ?, ?, ?, ?, ?, 1, 100, 250, ?, ?)`,
      [gw.organizationId, zone, day, provider, model, requests, cost, market],
      'run',
    )
  }
  const range = parseTimeRange({ from: '2026-03-01', to: '2026-03-02', timezone: zone, granularity: 'day' }, Date.now(), { window: '30d' })
  const body = await gw.services.get(AnalyticsServices.service).activity({ organizationId: gw.organizationId }, range, 'model')
  t.same(
    body.series.map((s) => [s.bucketLabel, s.key, s.requests, s.errors, s.inputTokens, s.avgLatencyMs, s.cost, s.marketCost, s.savings]),
    [
      ['2026-03-01', 'shared', 5, 2, 200, 100, formatPicoUsd(123456789012345678n + 900000000000000001n), formatPicoUsd(223456789012345679n + 900000000000000003n), formatPicoUsd(100000000000000003n)],
      ['2026-03-01', 'solo', 1, 1, 100, 250, '0.0000015', '0.000002', '0.0000005'],
      ['2026-03-02', 'shared', 4, 1, 100, 62.5, '0.000000000007', '0.000000000005', '-0.000000000002'],
    ],
    'cells in bucket and key order, a cell of two rows added up exactly, savings negative where market is below cost',
  )
  const shared = body.ranking.find((r) => r.key === 'shared')
  t.equal(shared?.cost, formatPicoUsd(123456789012345678n + 900000000000000001n + 7n), 'the group total is exact')
  t.equal(body.totals.marketCost, formatPicoUsd(223456789012345679n + 900000000000000003n + 2000000n + 5n), 'the grand total is exact')
  t.equal(body.totals.requests, 10)
})
