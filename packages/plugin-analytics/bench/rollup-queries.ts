/**
 * Benchmark: analytics queries on a year of rollups, on PostgreSQL.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
 *     node --import=./test-support/tsx-register.mjs --conditions=tollgate-src packages/plugin-analytics/bench/rollup-queries.ts
 *
 * Optional: BENCH_RUNS (timed runs per query, default 40, at most 1000), BENCH_EXPLAIN=1 (print
 * the plan of the 365-day by-model query at 10M). Takes about 4 minutes on 2 cores (the load is
 * about 2 of them) and needs about 3 GB of disk while it runs.
 *
 * Creates a scratch database (dropped at the end), two organizations with 20 projects, 50 members
 * and 200 keys each, and rollups equivalent to 1 million and to 10 million requests spread over
 * 365 days across 30 models (generated in bulk with generate_series: the 15-minute rows first, the
 * coarser grains summed from them, exactly as the worker keeps them). The queries read the org,
 * model, project and member cubes, which are loaded; the detail and key cubes, which these queries
 * never read, are left empty to keep the load short. The plugin is configured with local-day tiers
 * for Europe/Paris and Asia/Kathmandu: one worker run backfills them from the loaded rows (timed).
 * Then it times, through the analytics service (range parsing included, as a request would): a
 * 365-day activity series grouped by model and by project in Europe/Paris, by model in
 * Asia/Kathmandu and in America/Los_Angeles (no tier: the grain-row plan), and a 30-day members
 * table. Prints p50/p95 per query and the 10M/1M ratio (flat = query time does not grow with the
 * number of raw requests).
 */
import pino from 'pino'
import pg from 'pg'
import { createGateway } from '@tollgate/core'
import { AnalyticsServices, analyticsPlugin } from '@tollgate/plugin-analytics'
import { parseTimeRange } from '../src/query/params.ts'
import { querySeries } from '../src/query/series-query.ts'

const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const RUNS = Math.min(1000, Math.max(1, Number(process.env.BENCH_RUNS ?? 40)))
const name = `tg_bench_analytics_${Date.now().toString(36)}`
const admin = new pg.Client({ connectionString: base })
await admin.connect()
await admin.query(`create database ${name}`)
const url = new URL(base)
url.pathname = `/${name}`

const gw = await createGateway({
  logger: pino({ level: 'silent' }),
  database: { url: url.toString(), poolSize: 4 },
  security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64') },
  models: [{ name: 'mock-echo', provider: 'mock', prices: { input: '1', output: '2' } }],
  plugins: [analyticsPlugin({ rollup: { intervalMs: 3_600_000, localDayZones: ['Europe/Paris', 'Asia/Kathmandu'] } })],
})
const em = () => gw.db.orm.em.fork()
const YEAR_END = Date.parse('2026-11-01T00:00:00Z')
const YEAR_START = YEAR_END - 365 * 86_400_000

try {
  const orgs: { label: string; requests: number; id: string; projects: string[]; users: string[]; keys: string[] }[] = []
  for (const [label, requests] of [['1M', 1_000_000], ['10M', 10_000_000]] as const) {
    const owner = await gw.identity.createUser({ email: `owner-${label}@bench.test` })
    const org = await gw.identity.createOrganization({ name: `Bench ${label}`, ownerUserId: owner.id })
    const projects: string[] = []
    for (let i = 0; i < 20; i++) projects.push((await gw.identity.createProject({ organizationId: org.id, name: `project-${i}` })).id)
    const users: string[] = [owner.id]
    for (let i = 1; i < 50; i++) {
      const u = await gw.identity.createUser({ email: `member-${i}-${label}@bench.test` })
      await gw.identity.addMember({ organizationId: org.id, userId: u.id, role: 'member' })
      users.push(u.id)
    }
    const keys: string[] = []
    for (let i = 0; i < 200; i++) keys.push((await gw.identity.createApiKey({ organizationId: org.id, projectId: projects[i % 20], ownerUserId: users[i % 50], name: `key-${i}` })).id)
    orgs.push({ label, requests, id: org.id, projects, users, keys })
  }

  const started = performance.now()
  for (const o of orgs) await load(o)
  await em().execute('vacuum analyze', [], 'run').catch(async () => {
    // VACUUM cannot run in a transaction block; use a plain client.
    const c = new pg.Client({ connectionString: url.toString() })
    await c.connect()
    await c.query('vacuum analyze')
    await c.end()
  })
  // One worker run: no events to roll up, then the local-day zones are backfilled from the loaded rows.
  const backfillStarted = performance.now()
  await gw.workers.runOnce('analytics.rollup')
  const backfillSeconds = (performance.now() - backfillStarted) / 1000
  await em().execute('analyze', [], 'run')
  const sizes = await em().execute<{ t: string; n: string }[]>(
    `select relname as t, n_live_tup::text as n from pg_stat_user_tables where relname like 'analytics_rollup_%' or relname like 'analytics_local_day_%' order by relname`,
    [],
    'all',
  )
  console.log(`loaded in ${((performance.now() - started) / 1000).toFixed(1)} s (local-day backfill of 2 zones: ${backfillSeconds.toFixed(1)} s); rows: ${sizes.map((s) => `${s.t.replace('analytics_rollup_', '').replace('analytics_local_day_', 'day:')}=${s.n}`).join(' ')}`)

  const service = gw.services.get(AnalyticsServices.service)
  const now = YEAR_END
  const results: Record<string, Record<string, number[]>> = {}
  // Node CPU ms per call (the JSON shaping's share; less sensitive to the shared machine's load).
  const nodeCpu: Record<string, Record<string, number>> = {}
  const sqlOnly = (organizationId: string, boundaries: readonly number[], timeZone: string) =>
    gw.db.orm.em.fork().transactional(async (tx) => {
      await tx.execute('set local jit = off', [], 'run')
      await tx.execute("set local work_mem = '32MB'", [], 'run')
      return querySeries(tx as never, { cube: 'model', organizationId, groupBy: ['model'], boundaries, timeZone }, (_bucket, _key, counts) => counts)
    })
  const year = (tz: string) => parseTimeRange({ from: '2025-11-01', to: '2026-10-31', timezone: tz, granularity: 'day' }, now, { window: '30d' })
  const month = parseTimeRange({ window: '30d', timezone: 'Europe/Paris' }, now, { window: '30d' })
  const parisYear = year('Europe/Paris')
  const queriesOf = (o: (typeof orgs)[number]): [string, () => Promise<unknown>][] => {
    const scope = { organizationId: o.id }
    return [
      ['365d activity by model, Europe/Paris', () => service.activity(scope, year('Europe/Paris'), 'model')],
      ['365d activity by project, Europe/Paris', () => service.activity(scope, year('Europe/Paris'), 'project')],
      ['365d activity by model, Asia/Kathmandu', () => service.activity(scope, year('Asia/Kathmandu'), 'model')],
      ['365d by model, Los_Angeles (no tier)', () => service.activity(scope, year('America/Los_Angeles'), 'model')],
      ['30d members table', () => service.members(scope, month)],
      // The activity's statement alone (no range parsing, no shaping): the database's share, plus reading the rows.
      ['365d by model, Paris: SQL only', () => sqlOnly(o.id, parisYear.boundaries, 'Europe/Paris')],
    ]
  }
  // Warm-up, not measured: every query of both organizations ten times before any is timed. A
  // serving instance has compiled these paths long before (JIT), and its heap is not settling
  // from a bulk load made a moment ago in the same process.
  for (const o of orgs) for (const [, run] of queriesOf(o)) for (let i = 0; i < 10; i++) await run()
  // Timed runs alternate between the two scales, so the 10M/1M ratio compares like with like.
  // Timed one scale after the other, whichever came first was slower, in either order (Node CPU
  // per call ~25% higher): the process was still settling, not the query.
  const queryNames = queriesOf(orgs[0]).map(([q]) => q)
  for (let qi = 0; qi < queryNames.length; qi++) {
    const q = queryNames[qi]
    const runs = orgs.map((o) => queriesOf(o)[qi][1])
    const times: number[][] = orgs.map(() => [])
    const cpuMicros = orgs.map(() => 0)
    for (let i = 0; i < RUNS; i++) {
      for (let k = 0; k < orgs.length; k++) {
        const cpu0 = process.cpuUsage()
        const t0 = performance.now()
        await runs[k]()
        times[k].push(performance.now() - t0)
        const cpu = process.cpuUsage(cpu0)
        cpuMicros[k] += cpu.user + cpu.system
      }
    }
    orgs.forEach((o, k) => {
      results[q] = { ...results[q], [o.label]: times[k].sort((a, b) => a - b) }
      nodeCpu[q] = { ...nodeCpu[q], [o.label]: cpuMicros[k] / 1000 / RUNS }
    })
  }
  for (const o of orgs) {
    const scope = { organizationId: o.id }
    if (process.env.BENCH_EXPLAIN && o.label === '10M') {
        await gw.db.orm.em.fork().transactional(async (tx) => {
          await tx.execute('set local jit = off', [], 'run')
          await tx.execute("set local work_mem = '32MB'", [], 'run')
          const lines: string[] = []
          const explaining = {
            execute: async (sql: string, params: unknown[], mode: 'all') => {
              const rows = await tx.execute<{ 'QUERY PLAN': string }[]>(`explain (analyze, buffers) ${sql}`, params, mode)
              lines.push(...rows.map((r) => r['QUERY PLAN']))
              return []
            },
          }
          await querySeries(explaining as never, { cube: 'model', organizationId: o.id, groupBy: ['model'], boundaries: parisYear.boundaries, timeZone: 'Europe/Paris' }, () => null)
          console.log(`\nEXPLAIN ANALYZE, 365d by model, Paris, 10M:\n${lines.join('\n')}`)
        })
    }
    // Check the load: the year's totals must equal the requests loaded.
    const total = (await service.summary(scope, year('UTC'))).totals.requests
    console.log(`${o.label}: the 365-day summary reads ${total} requests`)
  }
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)]
  console.log(`\n${'query'.padEnd(42)} ${'1M p50'.padStart(8)} ${'1M p95'.padStart(8)} ${'10M p50'.padStart(8)} ${'10M p95'.padStart(8)}  10M/1M p95  target p95 < 50 ms`)
  for (const [q, r] of Object.entries(results)) {
    const a = pct(r['1M'], 0.95)
    const b = pct(r['10M'], 0.95)
    const cpu = `node CPU/call ${nodeCpu[q]['1M'].toFixed(1)} / ${nodeCpu[q]['10M'].toFixed(1)} ms`
    console.log(`${q.padEnd(42)} ${pct(r['1M'], 0.5).toFixed(1).padStart(8)} ${a.toFixed(1).padStart(8)} ${pct(r['10M'], 0.5).toFixed(1).padStart(8)} ${b.toFixed(1).padStart(8)}  ${(b / a).toFixed(2).padStart(10)}  ${b < 50 ? 'ok' : 'MISSED'}  ${cpu}`)
  }
  console.log(`load average at the end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`)
} finally {
  await gw.close()
  await admin.query(`drop database if exists ${name} with (force)`)
  await admin.end()
}

/** Loads one organization's year: 15-minute rows per cube, then the coarser grains summed from them. */
async function load(o: { label: string; requests: number; id: string; projects: string[]; users: string[] }): Promise<void> {
  const buckets = (YEAR_END - YEAR_START) / 900_000
  const perBucket = o.requests / buckets
  const cubes: { cube: string; dimCol: string; values: string; n: number; histograms: boolean }[] = [
    { cube: 'org', dimCol: '', values: `array['-']`, n: 1, histograms: false },
    { cube: 'model', dimCol: 'model', values: `array[${Array.from({ length: 30 }, (_, i) => `'model-${i}'`).join(',')}]`, n: 30, histograms: true },
    { cube: 'project', dimCol: 'project_id', values: `array[${o.projects.map((p) => `'${p}'`).join(',')}]::uuid[]`, n: 20, histograms: false },
    { cube: 'member', dimCol: 'user_id', values: `array[${o.users.map((u) => `'${u}'`).join(',')}]::uuid[]`, n: 50, histograms: false },
  ]
  for (const c of cubes) {
    // Requests per row: a deterministic spread around the mean (0 .. 2 × mean), rows with none left out;
    // the total is then scaled exactly to the target in the org cube check below.
    const mean = perBucket / c.n
    const dimSelect = c.dimCol ? `, (${c.values})[d]` : ''
    const dimInsert = c.dimCol ? `, ${c.dimCol}${c.dimCol === 'model' ? ', provider' : ''}` : ''
    const providerSelect = c.dimCol === 'model' ? `, case when d % 3 = 0 then 'anthropic' else 'openai' end` : ''
    const hist = c.histograms ? ', latency_b04, ttft_b02' : ''
    const histSelect = c.histograms ? ', req, req' : ''
    await em().execute(
      `insert into analytics_rollup_${c.cube} (organization_id, grain, bucket_start${dimInsert}, requests, errors, input_tokens, output_tokens, cost, market_cost, latency_sum_ms, ttft_count, ttft_sum_ms${hist})
       select ?::uuid, 900, ?::timestamptz + b * interval '15 minutes'${dimSelect}${providerSelect}, req, req / 50, req * 900, req * 250, req * 4000000000, req * 5000000000, req * 800, req, req * 300${histSelect}
         from (select b, d, floor(((hashint8(b * 1000 + d) & 65535) / 65535.0) * 2 * ?)::bigint as req
                 from generate_series(0, ? - 1) b, generate_series(1, ?) d) s
        where req > 0`,
      [o.id, new Date(YEAR_START).toISOString(), mean, buckets, c.n],
      'run',
    )
    const cols = `requests, errors, input_tokens, output_tokens, cost, market_cost, latency_sum_ms, ttft_count, ttft_sum_ms${hist}`
    const sums = cols
      .split(', ')
      .map((x) => `sum(${x})`)
      .join(', ')
    const dims = c.dimCol ? `, ${c.dimCol}${c.dimCol === 'model' ? ', provider' : ''}` : ''
    for (const g of [3600, 21600, 86400]) {
      await em().execute(
        `insert into analytics_rollup_${c.cube} (organization_id, grain, bucket_start${dims}, ${cols})
         select organization_id, ?, date_bin(? * interval '1 second', bucket_start, '2000-01-01T00:00:00Z')${dims}, ${sums}
           from analytics_rollup_${c.cube} where organization_id = ? and grain = 900
          group by organization_id, 3${dims}`,
        [g, g, o.id],
        'run',
      )
    }
  }
}
