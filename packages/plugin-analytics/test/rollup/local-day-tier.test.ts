import t, { type Test } from 'tap'
import pino from 'pino'
import { createGateway, type Gateway, type UsageEvent } from '@tollgate/core'
import { createTestDatabase } from '@tollgate/core/testing'
import { AnalyticsServices, analyticsPlugin } from '@tollgate/plugin-analytics'
import { parseTimeRange } from '../../src/query/params.ts'
import { drainRollups, seeded, usageEvent, writeEvents } from '../support.ts'

/**
 * Must show: the local-day tier is exact. Events are rolled up first with no tier zone configured,
 * then the zones are added (the worker backfills them from the grain rows) and more events arrive
 * (added by every batch). The tier rows, and every answer read through them — daily series, a
 * range with partial first and last days, totals, model maxima — equal a reference computed from
 * the raw events with Intl, on New York's spring-forward and fall-back days, in Kathmandu (+5:45)
 * and on both of Lord Howe's half-hour shifts. Removing the zones drops the tier, and the same
 * answers come from the grain rows.
 */
const ORG = '0b7a3c1e-0000-4000-8000-0000000000d1'
const ZONES = ['America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe']
const WINDOWS = [
  ['2026-03-06T00:00:00Z', '2026-03-10T12:00:00Z'], // New York spring forward (03-08)
  ['2026-04-03T00:00:00Z', '2026-04-07T00:00:00Z'], // Lord Howe DST ends, -30 min (04-05)
  ['2026-10-02T00:00:00Z', '2026-10-06T00:00:00Z'], // Lord Howe DST starts, +30 min (10-04)
  ['2026-10-30T00:00:00Z', '2026-11-03T12:00:00Z'], // New York fall back (11-01); Kathmandu
].map(([a, b]) => [Date.parse(a), Date.parse(b)] as const)
const MODELS = ['gpt-a', 'claude-b', 'gpt-c']

function makeEvents(seed: number, prefix: string): UsageEvent[] {
  const rand = seeded(seed)
  const out: UsageEvent[] = []
  const add = (at: number) =>
    out.push(
      usageEvent({
        requestId: `${prefix}-${out.length}`,
        occurredAt: new Date(at),
        organizationId: ORG,
        provider: 'p',
        model: MODELS[Math.floor(rand() * MODELS.length)],
        inputTokens: Math.floor(rand() * 5000),
        outputTokens: Math.floor(rand() * 2000),
        cost: BigInt(Math.floor(rand() * 1e9)) * 1000n + BigInt(Math.floor(rand() * 1000)),
        latencyMs: Math.floor(rand() * 20_000),
        status: rand() < 0.05 ? 500 : 200,
      }),
    )
  for (const [a, b] of WINDOWS) {
    for (let i = 0; i < 250; i++) add(a + Math.floor(rand() * (b - a)))
    // On and one millisecond around 15-minute instants: every local midnight is an edge.
    for (let q = a; q < b; q += 900_000) {
      if (rand() < 0.25) add(q)
      if (rand() < 0.15) add(q - 1)
    }
  }
  return out
}
const phase1 = makeEvents(20260308, 'before')
const phase2 = makeEvents(20261101, 'after')
const all = [...phase1, ...phase2]

const formatters = new Map<string, Intl.DateTimeFormat>()
/** The reference local date of an instant: Intl's own formatting. */
function localDateOf(zone: string, at: number): string {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
    formatters.set(zone, f)
  }
  return f.format(new Date(at))
}

interface Cell {
  requests: number
  cost: bigint
  errors: number
  maxLatency: number
}
function cellOf(map: Map<string, Cell>, key: string): Cell {
  const c = map.get(key) ?? { requests: 0, cost: 0n, errors: 0, maxLatency: 0 }
  map.set(key, c)
  return c
}
function addTo(c: Cell, e: UsageEvent) {
  c.requests++
  c.cost += e.cost
  c.errors += e.status >= 400 ? 1 : 0
  c.maxLatency = Math.max(c.maxLatency, e.latencyMs)
}
function usd(p: bigint): string {
  const frac = (p % 10n ** 12n).toString().padStart(12, '0').replace(/0+$/, '')
  return frac ? `${p / 10n ** 12n}.${frac}` : `${p / 10n ** 12n}`
}

async function openGateway(options: Awaited<ReturnType<typeof createTestDatabase>>['options'], zones: string[]): Promise<Gateway> {
  return createGateway({
    logger: pino({ level: 'silent' }),
    database: options,
    security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64') },
    usage: { flushIntervalMs: 20 },
    models: [{ name: 'mock-echo', provider: 'mock', prices: { input: '1', output: '2' } }],
    plugins: [analyticsPlugin({ rollup: { intervalMs: 3_600_000, batchSize: 500, localDayZones: zones } })],
  })
}



// Daily series over whole local days, and ranges whose first and last days are partial.
const CASES: [zone: string, from: string, to: string][] = [
  ['America/New_York', '2026-03-06', '2026-03-09'],
  ['America/New_York', '2026-10-30', '2026-11-02'],
  ['America/New_York', '2026-03-07T13:15', '2026-03-09T10:30'],
  ['America/New_York', '2026-10-31T22:45', '2026-11-02T01:30'],
  ['Asia/Kathmandu', '2026-10-30', '2026-11-02'],
  ['Asia/Kathmandu', '2026-10-30T05:45', '2026-11-02T23:15'],
  ['Australia/Lord_Howe', '2026-04-04', '2026-04-06'],
  ['Australia/Lord_Howe', '2026-10-03', '2026-10-05'],
  ['Australia/Lord_Howe', '2026-04-04T12:30', '2026-04-06T00:15'],
]

/** The service's answers equal the raw events: the daily series by model, the range's totals, and per-model latency maxima. */
async function checkAnswers(t: Test, gw: Gateway, phase: string): Promise<void> {
  const service = gw.services.get(AnalyticsServices.service)
  for (const [zone, from, to] of CASES) {
    const range = parseTimeRange({ from, to, timezone: zone, granularity: 'day' }, Date.now(), { window: '30d' })
    const inRange = all.filter((e) => e.occurredAt.getTime() >= range.from && e.occurredAt.getTime() < range.to)
    const series = new Map<string, Cell>()
    const byModel = new Map<string, Cell>()
    const total = cellOf(new Map(), '')
    for (const e of inRange) {
      addTo(cellOf(series, `${localDateOf(zone, e.occurredAt.getTime())}|${e.model}`), e)
      addTo(cellOf(byModel, String(e.model)), e)
      addTo(total, e)
    }
    const activity = await service.activity({ organizationId: ORG }, range, 'model')
    const got = new Map(activity.series.map((s) => [`${s.bucketLabel}|${s.key}`, s]))
    t.same([...got.keys()].sort(), [...series.keys()].sort(), `${phase} ${zone} ${from}..${to}: same days and models as the raw events`)
    const wrong = [...series].filter(([k, r]) => {
      const g = got.get(k)
      return !g || g.requests !== r.requests || g.cost !== usd(r.cost) || g.errors !== r.errors
    })
    t.same(wrong, [], `${phase} ${zone} ${from}..${to}: every day equals the raw events exactly`)
    const summary = await service.summary({ organizationId: ORG }, range)
    t.same([summary.totals.requests, summary.totals.cost], [total.requests, usd(total.cost)], `${phase} ${zone} ${from}..${to}: totals equal the raw events`)
    const models = await service.models({ organizationId: ORG }, range)
    t.same(
      models.data.map((m) => [m.model, m.requests, m.latencyMs.max]).sort(),
      [...byModel].map(([m, c]) => [m, c.requests, c.maxLatency]).sort(),
      `${phase} ${zone} ${from}..${to}: per-model latency maxima equal the raw events`,
    )
  }
}

t.test('the local-day tier, backfilled and then kept by every batch, equals the raw events', { timeout: 300_000 }, async (t) => {
  const testDb = await createTestDatabase()
  t.teardown(() => testDb.drop())

  // Phase 1: no tier zone configured.
  const before = await openGateway(testDb.options, [])
  await writeEvents(before, phase1)
  await drainRollups(before, 60_000)
  const [{ n: untiered }] = await before.db.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from analytics_local_day_model', [], 'all')
  t.equal(untiered, 0, 'no zone configured: no local-day rows')
  await before.close()

  // Phase 2: the zones are added: the first run backfills them, later batches add to them.
  const gw = await openGateway(testDb.options, ZONES)
  await writeEvents(gw, phase2)
  await drainRollups(gw, 60_000)
  const em = gw.db.orm.em.fork()
  const listed = await em.execute<{ time_zone: string }[]>('select time_zone from analytics_local_day_zone order by 1', [], 'all')
  t.same(
    listed.map((r) => r.time_zone),
    [...ZONES].sort(),
    'the configured zones are listed as having a tier',
  )

  t.test('tier rows equal the raw events per zone, local date and model', async (t) => {
    for (const zone of ZONES) {
      const ref = new Map<string, Cell>()
      for (const e of all) addTo(cellOf(ref, `${localDateOf(zone, e.occurredAt.getTime())}|${e.model}`), e)
      const rows = await em.execute<{ day: string; model: string; requests: number; cost: string; errors: number; latency_max_ms: number }[]>(
        `select to_char(day, 'YYYY-MM-DD') as day, model, requests::int as requests, cost::text as cost, errors::int as errors, latency_max_ms::int as latency_max_ms
           from analytics_local_day_model where organization_id = ? and time_zone = ?`,
        [ORG, zone],
        'all',
      )
      const got = new Map(rows.map((r) => [`${r.day}|${r.model}`, r]))
      t.same([...got.keys()].sort(), [...ref.keys()].sort(), `${zone}: the same local dates and models`)
      const wrong = [...ref].filter(([k, r]) => {
        const g = got.get(k)
        return !g || g.requests !== r.requests || g.cost !== r.cost.toString() || g.errors !== r.errors || g.latency_max_ms !== r.maxLatency
      })
      t.same(wrong, [], `${zone}: every local day's sums and maxima equal the raw events (DST days included)`)
    }
  })

  t.test('answers read through the tier equal the raw events', (t) => checkAnswers(t, gw, 'with the tier'))

  t.test('the tier is what those answers read', async (t) => {
    // Skew one tier row: a daily series in its zone must show it (and the grain rows cannot).
    const service = gw.services.get(AnalyticsServices.service)
    const range = parseTimeRange({ from: '2026-03-08', to: '2026-03-08', timezone: 'America/New_York', granularity: 'day' }, Date.now(), { window: '30d' })
    const requestsOf = async () => (await service.activity({ organizationId: ORG }, range, 'model')).totals.requests
    const honest = await requestsOf()
    await em.execute(`update analytics_local_day_model set requests = requests + 1000 where time_zone = 'America/New_York' and day = '2026-03-08' and model = 'gpt-a'`, [], 'run')
    t.equal(await requestsOf(), honest + 1000, 'the 23-hour day is one tier row per model')
    await em.execute(`update analytics_local_day_model set requests = requests - 1000 where time_zone = 'America/New_York' and day = '2026-03-08' and model = 'gpt-a'`, [], 'run')
    t.equal(await requestsOf(), honest, 'restored')
  })

  t.test('removing the zones drops the tier; the grain rows give the same answers', async (t) => {
    await gw.close()
    const after = await openGateway(testDb.options, [])
    t.teardown(() => after.close())
    await after.workers.runOnce('analytics.rollup')
    const e2 = after.db.orm.em.fork()
    const [{ zones }] = await e2.execute<{ zones: number }[]>('select count(*)::int as zones from analytics_local_day_zone', [], 'all')
    const [{ rows }] = await e2.execute<{ rows: number }[]>('select count(*)::int as rows from analytics_local_day_org', [], 'all')
    t.same([zones, rows], [0, 0], 'no zone listed, no tier rows left')
    await checkAnswers(t, after, 'without the tier')
  })
})
