// Gateway throughput with billing and budgets on versus core only, in one run, with one hot
// organization and with many; plus the settlement rate (request charges written to the ledger).
//
//   node packages/plugin-billing-stripe/bench/throughput.mjs [--duration 8] [--rounds 2] [--orgs 200] [--connections 50] [--only hot|many]
//
// Every process (fake upstream, gateways, load) is separate; rounds alternate core and billing,
// the figure is the median of the rounds. Uses PostgreSQL when DATABASE_URL is set, else PGlite.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const here = fileURLToPath(new URL('.', import.meta.url))
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const duration = arg('duration', 8)
const rounds = arg('rounds', 2)
const manyOrgs = arg('orgs', 200)
const connections = arg('connections', 50)
// --only hot | many: run one of the two scenarios (for quick comparisons while working on one).
const onlyAt = process.argv.indexOf('--only')
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined
const tsx = ['--import=./test-support/tsx-register.mjs', '--conditions=tollgate-src']

// BENCH_CPU_PROF=<dir>: write a V8 CPU profile of each gateway process there (for finding hot spots).
const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []

function start(args, { ts = false } = {}) {
  const child = spawn(process.execPath, [...(ts ? [...prof, ...tsx] : []), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const next = () => once(lines, 'line').then(([l]) => JSON.parse(l))
  return { child, next }
}

async function load(port, keys, seconds) {
  const p = start([`${here}load.mjs`, JSON.stringify({ url: `http://127.0.0.1:${port}`, keys, connections, duration: seconds })])
  return p.next()
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const upstream = start([`${root}bench/fake-upstream.mjs`])
const { port: upstreamPort } = await upstream.next()
const upstreamUrl = `http://127.0.0.1:${upstreamPort}`
const report = { duration, rounds, connections, database: process.env.DATABASE_URL ? 'postgresql' : 'pglite', scenarios: {} }

const scenarios = [['hot', 'one hot organization', 1], ['many', `${manyOrgs} organizations`, manyOrgs]].filter(([key]) => !only || key === only)
for (const [, scenario, orgs] of scenarios) {
  const core = start([`${here}gateway.ts`, upstreamUrl, 'core', String(orgs)], { ts: true })
  const billing = start([`${here}gateway.ts`, upstreamUrl, 'billing', String(orgs)], { ts: true })
  const [c, b] = await Promise.all([core.next(), billing.next()])
  // Warm-up (JIT, key caches, first leases), not measured.
  await load(c.port, c.keys, 3)
  await load(b.port, b.keys, 3)
  const coreRuns = []
  const billingRuns = []
  const cpuOf = async (g) => {
    g.child.kill('SIGUSR2')
    return (await g.next()).cpuMicros
  }
  // CPU time of the gateway process per served request: robust when other work shares the cores.
  const measured = async (g, info) => {
    const before = await cpuOf(g)
    const run = await load(info.port, info.keys, duration)
    run.cpuMicrosPerRequest = ((await cpuOf(g)) - before) / Math.max(1, run.total)
    return run
  }
  for (let r = 0; r < rounds; r++) {
    coreRuns.push(await measured(core, c))
    billingRuns.push(await measured(billing, b))
  }
  core.child.kill('SIGTERM')
  billing.child.kill('SIGTERM')
  const [settlement] = await Promise.all([billing.next(), once(core.child, 'exit')])
  const coreRps = median(coreRuns.map((x) => x.rps))
  const billingRps = median(billingRuns.map((x) => x.rps))
  const served = billingRuns.reduce((s, x) => s + x.total, 0)
  report.scenarios[scenario] = {
    coreRps: Math.round(coreRps),
    billingRps: Math.round(billingRps),
    ratio: Number((billingRps / coreRps).toFixed(3)),
    cpuMicrosPerRequest: { core: Math.round(median(coreRuns.map((x) => x.cpuMicrosPerRequest))), billing: Math.round(median(billingRuns.map((x) => x.cpuMicrosPerRequest))) },
    // Throughput one saturated core allows, billing vs core only: the figure that survives noisy neighbours.
    cpuRatio: Number((median(coreRuns.map((x) => x.cpuMicrosPerRequest)) / median(billingRuns.map((x) => x.cpuMicrosPerRequest))).toFixed(3)),
    non2xx: billingRuns.reduce((s, x) => s + x.non2xx, 0) + coreRuns.reduce((s, x) => s + x.non2xx, 0),
    p99Ms: { core: median(coreRuns.map((x) => x.p99)), billing: median(billingRuns.map((x) => x.p99)) },
    settlement: {
      chargesWritten: settlement.settled,
      flushes: settlement.flushes,
      // Write capacity: charges per second of flush time (what one instance can settle at most).
      chargesPerFlushSecond: settlement.flushSeconds > 0 ? Math.round(settlement.settled / settlement.flushSeconds) : null,
      leaseRequests: settlement.leases,
      servedInMeasuredRounds: served,
    },
  }
  const sc = report.scenarios[scenario]
  console.error(`${scenario}: core ${sc.coreRps} req/s, billing ${sc.billingRps} req/s, ratio ${sc.ratio}; CPU/request core ${sc.cpuMicrosPerRequest.core} µs, billing ${sc.cpuMicrosPerRequest.billing} µs, CPU ratio ${sc.cpuRatio}`)
}
upstream.child.kill('SIGTERM')
console.log(JSON.stringify(report, null, 2))
