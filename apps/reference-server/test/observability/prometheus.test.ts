import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import OpenAI from 'openai'
import { GATEWAY_METRICS, PLUGIN_METRICS } from '@tollgate/core'
import { createTestDatabase } from '@tollgate/core/testing'
import { startServer } from '../../src/index.ts'
import { databaseOverrides, tempDir } from '../helpers.ts'
import { dashboardExpressions, labelNames, metricNames, ruleExpressions } from './metric-names.ts'
import { familyNames, promBinary, promtool, promtoolCheckMetrics } from '../../../../packages/core/test/observability/helpers.ts'

const ROOT = new URL('../../../../', import.meta.url).pathname
/** Every bundled plugin switched on: the assembly the dashboard is for. */
const ALL_PLUGINS = { audit: true, guardrails: true, billing: true, analytics: true, sso: true, dashboard: true }

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as { port: number }
  await new Promise((r) => s.close(r))
  return port
}

async function startAssembly(t: Test, plugins: Record<string, boolean> = ALL_PLUGINS) {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dataDir = await tempDir(t)
  const server = await startServer({ load: { env: {}, cwd: dataDir, overrides: { ...databaseOverrides(db, dataDir), plugins } }, print: () => undefined })
  t.teardown(() => server.close())
  if (!server.bootstrap.created) throw new Error('the bootstrap did not run')
  return { server, apiKey: server.bootstrap.data.apiKey.secret }
}

t.test('every metric the dashboard and the alert rules read is exported by the full assembly, with those labels', async (t) => {
  const { server, apiKey } = await startAssembly(t)
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 })
  // Its answer does not matter (billing may refuse an organization without credits): it makes series.
  await client.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'hello' }] }).catch(() => undefined)
  const text = await (await fetch(`${server.url}/metrics`)).text()
  const exported = familyNames(text)
  const labelsOf = new Map(GATEWAY_METRICS.map((d) => [d.name, new Set(d.labels)]))
  const expressions = [...dashboardExpressions(), ...ruleExpressions()]
  t.ok(expressions.length >= 30, `${expressions.length} expressions checked`)
  const problems: string[] = []
  for (const { where, expr } of expressions) {
    const names = metricNames(expr)
    if (names.length === 0) problems.push(`${where} reads no metric`)
    for (const name of names) if (!exported.has(name)) problems.push(`${where}: ${name} is not exported`)
    const known = new Set(['le', 'job', 'instance'])
    for (const name of names) for (const l of labelsOf.get(name) ?? []) known.add(l)
    for (const label of labelNames(expr)) if (!known.has(label)) problems.push(`${where}: no label "${label}" on ${names.join(', ')}`)
  }
  t.same(problems, [], 'every name and label exists')
  // Plugins register the metrics core declares for them: with the declared labels.
  for (const d of Object.values(PLUGIN_METRICS)) {
    const registered = server.gateway.metrics.registry.getSingleMetric(d.name) as { labelNames?: string[] } | undefined
    t.same([...(registered?.labelNames ?? [])].sort(), [...d.labels].sort(), `${d.name} has the declared labels`)
  }
  // The checker itself must catch a wrong name.
  t.notOk(exported.has(metricNames('rate(tollgate_proxy_requestz_total[5m])')[0]), 'a misspelt metric is caught')

  await t.test('promtool check metrics passes on the full assembly', { skip: promBinary('promtool') ? false : 'promtool is not installed (apt-get install prometheus)' }, async (t) => {
    const lint = promtoolCheckMetrics(text)
    t.equal(lint.status, 0, `promtool check metrics on the full assembly: ${lint.output}`)
  })
})

t.test('promtool accepts the alert rules and the scrape config', { skip: promBinary('promtool') ? false : 'promtool is not installed (apt-get install prometheus)' }, async (t) => {
  t.match(promtool('check', 'rules', `${ROOT}observability/prometheus/alerts.yml`), /SUCCESS: \d+ rules found/)
  t.match(promtool('check', 'config', `${ROOT}observability/prometheus/prometheus.yml`), /is valid prometheus config file syntax/)
})

t.test('a real Prometheus scrapes a running reference server and answers a query', { skip: promBinary('prometheus') ? false : 'prometheus is not installed (apt-get install prometheus)' }, async (t) => {
  // The reference server's default plugins: this test is about scraping, the one above about the full assembly.
  const { server, apiKey } = await startAssembly(t, { dashboard: true })
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 })
  for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: `hello ${i}` }] })

  const dir = await mkdtemp(join(tmpdir(), 'tollgate-prom-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const target = new URL(server.url).host
  await writeFile(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${ROOT}observability/prometheus/alerts.yml\nscrape_configs:\n  - job_name: tollgate\n    static_configs:\n      - targets: ['${target}']\n`)
  const port = await freePort()
  const prom = spawn(promBinary('prometheus')!, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  prom.stderr.on('data', (d) => (log += d))
  t.teardown(async () => {
    if (prom.exitCode === null) {
      prom.kill('SIGTERM')
      await new Promise((r) => prom.once('exit', r))
    }
  })

  const query = async (q: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined)
    if (!res?.ok) return undefined
    return (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } }
  }
  const until = Date.now() + 30_000
  let result: Awaited<ReturnType<typeof query>>
  for (;;) {
    result = await query('sum by (model, status) (tollgate_proxy_requests_total{job="tollgate"})')
    if (result?.data.result.some((r) => r.metric.model === 'mock-echo' && Number(r.value[1]) >= 3)) break
    if (Date.now() > until || prom.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 250))
  }
  t.equal(result?.status, 'success', `Prometheus answered (log: ${log.slice(0, 500)})`)
  const series = result?.data.result.find((r) => r.metric.model === 'mock-echo')
  t.ok(series, 'the series of the mock model is there')
  t.equal(series?.metric.status, '200')
  t.ok(Number(series?.value[1]) >= 3, 'with the requests made')

  const up = await query('up{job="tollgate"}')
  t.equal(up?.data.result[0]?.value[1], '1', 'the target is up')
  const rules = await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()
  t.ok(rules.data.groups.length >= 3, 'the alert rules loaded')
  t.ok(rules.data.groups.every((g: any) => g.rules.every((r: any) => r.health !== 'err')), 'and evaluate without errors')
})
