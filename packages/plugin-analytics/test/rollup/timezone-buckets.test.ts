import t, { type Test } from 'tap'
import type { UsageEvent } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { analyticsPlugin } from '@tollgate/plugin-analytics'
import { drainRollups, seeded, usageEvent, writeEvents } from '../support.ts'

/**
 * Must show: daily and hourly buckets read from the rollups equal a reference computed here,
 * straight from the raw events, by formatting each event's instant in the zone with Intl — for
 * both 2026 DST days of New York, Paris, Kolkata (+5:30), Kathmandu (+5:45), Lord Howe (30-minute
 * DST) and UTC. Then the raw events are deleted, as retention would, and every answer stays.
 */
const gw = await createTestGateway({ plugins: [analyticsPlugin({ rollup: { intervalMs: 3_600_000, batchSize: 700 } })] })
t.teardown(() => gw.close())
const headers = { authorization: `Bearer ${gw.apiKey}` }

// Windows around every transition of the zones under test, plus quiet days.
const WINDOWS = [
  ['2026-03-06T00:00:00Z', '2026-03-10T12:00:00Z'], // New York spring forward (03-08)
  ['2026-03-27T12:00:00Z', '2026-03-31T00:00:00Z'], // Paris (03-29)
  ['2026-04-03T00:00:00Z', '2026-04-07T00:00:00Z'], // Lord Howe DST ends, -30 min (04-05)
  ['2026-10-02T00:00:00Z', '2026-10-06T00:00:00Z'], // Lord Howe DST starts, +30 min (10-04)
  ['2026-10-24T00:00:00Z', '2026-10-26T12:00:00Z'], // Paris (10-25)
  ['2026-10-30T00:00:00Z', '2026-11-03T12:00:00Z'], // New York fall back (11-01); Kolkata, Kathmandu, UTC
].map(([a, b]) => [Date.parse(a), Date.parse(b)] as const)
const MODELS = [
  ['oai', 'gpt-a'],
  ['anth', 'claude-b'],
  ['oai', 'gpt-c'],
] as const

const rand = seeded(20260308)
const events: UsageEvent[] = []
let n = 0
function add(at: number) {
  const [provider, model] = MODELS[Math.floor(rand() * MODELS.length)]
  events.push(
    usageEvent({
      requestId: `tz-${n++}`,
      occurredAt: new Date(at),
      organizationId: gw.organizationId,
      projectId: gw.projectId,
      userId: gw.userId,
      provider,
      model,
      inputTokens: Math.floor(rand() * 5000),
      outputTokens: Math.floor(rand() * 2000),
      cost: BigInt(Math.floor(rand() * 1e9)) * 1000n + BigInt(Math.floor(rand() * 1000)),
      marketCost: BigInt(Math.floor(rand() * 2e9)) * 1000n,
      latencyMs: Math.floor(rand() * 20_000),
      status: rand() < 0.05 ? 500 : 200,
    }),
  )
}
for (const [a, b] of WINDOWS) {
  for (let i = 0; i < 500; i++) add(a + Math.floor(rand() * (b - a)))
  // Events on and one millisecond around every 15-minute instant: every bucket edge is exercised.
  for (let q = a; q < b; q += 900_000) {
    if (rand() < 0.5) add(q)
    if (rand() < 0.3) add(q - 1)
    if (rand() < 0.3) add(q + 1)
  }
}
await writeEvents(gw, events)
await drainRollups(gw)

const dateFmt = new Map<string, Intl.DateTimeFormat>()
/** The reference: local date, hour and offset of an instant, from Intl's own formatting. */
function localKey(zone: string, at: number): { date: string; hour: string } {
  let f = dateFmt.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset' })
    dateFmt.set(zone, f)
  }
  const p = Object.fromEntries(f.formatToParts(new Date(at)).map((x) => [x.type, x.value]))
  const offset = p.timeZoneName === 'GMT' ? '+00:00' : p.timeZoneName.replace('GMT', '')
  const date = `${p.year}-${p.month}-${p.day}`
  return { date, hour: `${date}T${p.hour}:00${offset}` }
}

interface Cell {
  requests: number
  cost: bigint
  inputTokens: number
  outputTokens: number
  errors: number
}
function reference(zone: string, fromDate: string, toDate: string, granularity: 'day' | 'hour'): Map<string, Cell> {
  const out = new Map<string, Cell>()
  for (const e of events) {
    const k = localKey(zone, e.occurredAt.getTime())
    if (k.date < fromDate || k.date > toDate) continue
    const key = `${granularity === 'day' ? k.date : k.hour}|${e.model}`
    const c = out.get(key) ?? { requests: 0, cost: 0n, inputTokens: 0, outputTokens: 0, errors: 0 }
    c.requests++
    c.cost += e.cost
    c.inputTokens += e.inputTokens
    c.outputTokens += e.outputTokens
    c.errors += e.status >= 400 ? 1 : 0
    out.set(key, c)
  }
  return out
}

function usd(p: bigint): string {
  const whole = p / 10n ** 12n
  const frac = (p % 10n ** 12n).toString().padStart(12, '0').replace(/0+$/, '')
  return frac ? `${whole}.${frac}` : `${whole}`
}

const CASES: [zone: string, from: string, to: string, granularity: 'day' | 'hour', hours?: number][] = [
  ['America/New_York', '2026-03-08', '2026-03-08', 'hour', 23],
  ['America/New_York', '2026-11-01', '2026-11-01', 'hour', 25],
  ['America/New_York', '2026-03-06', '2026-03-09', 'day'],
  ['America/New_York', '2026-10-30', '2026-11-02', 'day'],
  ['Europe/Paris', '2026-03-28', '2026-03-30', 'day'],
  ['Europe/Paris', '2026-03-29', '2026-03-29', 'hour', 23],
  ['Europe/Paris', '2026-10-25', '2026-10-25', 'hour', 25],
  ['Asia/Kolkata', '2026-10-30', '2026-11-02', 'day'],
  ['Asia/Kolkata', '2026-10-31', '2026-10-31', 'hour', 24],
  ['Asia/Kathmandu', '2026-10-30', '2026-11-02', 'day'],
  ['Asia/Kathmandu', '2026-11-01', '2026-11-01', 'hour', 24],
  ['Australia/Lord_Howe', '2026-04-04', '2026-04-06', 'day'],
  ['Australia/Lord_Howe', '2026-04-05', '2026-04-05', 'hour', 25],
  ['Australia/Lord_Howe', '2026-10-03', '2026-10-05', 'day'],
  ['Australia/Lord_Howe', '2026-10-04', '2026-10-04', 'hour', 24],
  ['UTC', '2026-03-06', '2026-03-10', 'day'],
  ['UTC', '2026-11-01', '2026-11-01', 'hour', 24],
]

async function checkAll(t: Test, phase: string) {
  for (const [zone, from, to, granularity, hours] of CASES) {
    const res = await gw.app.inject({
      method: 'GET',
      url: `/analytics/activity?organizationId=${gw.organizationId}&groupBy=model&granularity=${granularity}&from=${from}&to=${to}&timezone=${encodeURIComponent(zone)}`,
      headers,
    })
    t.equal(res.statusCode, 200, res.statusCode === 200 ? `${zone} ${from}..${to} by ${granularity} answers` : res.body)
    const body = res.json()
    if (hours !== undefined) t.equal(body.buckets.length, hours, `${zone} ${from}: ${hours} hour buckets`)
    const ref = reference(zone, from, to, granularity)
    const got = new Map<string, Cell>()
    for (const s of body.series) got.set(`${s.bucketLabel}|${s.key}`, s)
    t.same([...got.keys()].sort(), [...ref.keys()].sort(), `${phase} ${zone} ${from}..${to} ${granularity}: same buckets and models as the raw events`)
    let exact = true
    for (const [k, r] of ref) {
      const g = got.get(k) as unknown as { requests: number; cost: string; inputTokens: number; outputTokens: number; errors: number } | undefined
      if (!g || g.requests !== r.requests || g.cost !== usd(r.cost) || g.inputTokens !== r.inputTokens || g.outputTokens !== r.outputTokens || g.errors !== r.errors) {
        exact = false
        t.fail(`${zone} ${k}: rollups ${JSON.stringify(g)} vs raw ${JSON.stringify({ ...r, cost: usd(r.cost) })}`)
        break
      }
    }
    t.ok(exact, `${phase} ${zone} ${from}..${to} ${granularity}: every bucket equals the raw events exactly`)
  }
}

t.test('buckets from the rollups equal the raw events in every zone', (t) => checkAll(t, 'live'))

t.test('after retention deletes the raw events, the answers are the same', async (t) => {
  await gw.db.orm.em.fork().execute('delete from core_usage_event', [], 'run')
  const [{ n }] = await gw.db.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from core_usage_event', [], 'all')
  t.equal(n, 0, 'no raw events left')
  await checkAll(t, 'after retention')
})
