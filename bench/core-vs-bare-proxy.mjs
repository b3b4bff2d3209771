// Benchmark: a bare fastify + undici proxy versus the gateway with core only, in front of the same
// fake upstream, non-stream and stream. Upstream, proxy and gateway each run in their own process;
// autocannon runs here. Prints requests/s, the ratio to the bare proxy, and added p50/p99 latency,
// and CPU time per request of the proxy process itself (from /proc: the figure that travels, since
// every process here shares two cores), as a table and as JSON. Not a test: numbers vary run to run, compare only within one run.
//
//   npm run bench                         # defaults: 50 connections, 10 s warm-up, 3 alternating rounds of 20 s
//   BENCH_SECONDS=30 BENCH_WARMUP=30 BENCH_ROUNDS=5 npm run bench
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

const here = new URL('.', import.meta.url).pathname
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const seconds = Number(process.env.BENCH_SECONDS ?? 20)
const warmup = Number(process.env.BENCH_WARMUP ?? 10)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const children = []

async function start(script, args = []) {
  const child = spawn(process.execPath, [`${here}${script}`, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env })
  children.push(child)
  const lines = createInterface({ input: child.stdout })
  for await (const line of lines) {
    if (line.startsWith('{')) return JSON.parse(line)
  }
  throw new Error(`${script} exited before it was ready`)
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc. */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1_000_000) / 100
}

function run(url, body, headers, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, method: 'POST', connections, duration, body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }, (err, result) => (err ? reject(err) : resolve(result)))
  })
}

const messages = [{ role: 'user', content: 'Summarise the following text. '.concat('lorem ipsum '.repeat(60)) }]
const scenarios = [
  { name: 'non-stream', body: { model: 'bench-model', messages } },
  { name: 'stream', body: { model: 'bench-model', messages, stream: true } },
].filter((s) => !process.env.BENCH_SCENARIOS || process.env.BENCH_SCENARIOS.split(',').includes(s.name))

try {
  const upstream = await start('fake-upstream.mjs')
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`
  const bare = await start('bare-proxy.mjs', [upstreamUrl])
  const bareChild = children.at(-1)
  const gateway = await start('gateway-core.mjs', [upstreamUrl])
  const gatewayChild = children.at(-1)
  const targets = [
    { name: 'bare fastify+undici proxy', url: `http://127.0.0.1:${bare.port}/v1/chat/completions`, headers: {}, pid: bareChild.pid },
    { name: 'gateway (core only)', url: `http://127.0.0.1:${gateway.port}/v1/chat/completions`, headers: { authorization: `Bearer ${gateway.apiKey}` }, pid: gatewayChild.pid },
  ]
  // Targets are measured in alternation, round after round, and each figure is the median of
  // its rounds: a shared machine drifts by tens of percent over minutes, and one back-to-back
  // pair would charge that drift to whichever target ran second.
  const results = []
  for (const scenario of scenarios) {
    for (const target of targets) {
      process.stderr.write(`warming up ${target.name} (${scenario.name}) for ${warmup}s…\n`)
      const w = await run(target.url, scenario.body, target.headers, warmup)
      if (w.non2xx > 0) throw new Error(`${target.name} answered ${w.non2xx} non-2xx responses during warm-up`)
    }
    const samples = new Map(targets.map((t) => [t.name, []]))
    for (let round = 1; round <= rounds; round++) {
      for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
        process.stderr.write(`round ${round}/${rounds}: measuring ${target.name} (${scenario.name}) for ${seconds}s…\n`)
        const cpuBefore = cpuMicros(target.pid)
        const r = await run(target.url, scenario.body, target.headers, seconds)
        const cpu = cpuMicros(target.pid) - cpuBefore
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${target.name}: ${r.non2xx} non-2xx, ${r.errors} errors`)
        samples.get(target.name).push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuPerRequest: cpu / r.requests.total })
      }
    }
    for (const target of targets) {
      const s = samples.get(target.name)
      const med = (k) => median(s.map((x) => x[k]))
      results.push({ scenario: scenario.name, target: target.name, rps: med('rps'), p50: med('p50'), p99: med('p99'), cpuPerRequest: med('cpuPerRequest'), rounds: s })
    }
  }
  const rows = []
  for (const scenario of scenarios) {
    const base = results.find((r) => r.scenario === scenario.name && r.target === targets[0].name)
    for (const r of results.filter((x) => x.scenario === scenario.name)) {
      rows.push({
        scenario: r.scenario,
        target: r.target,
        'req/s': Math.round(r.rps),
        'vs bare': `${((r.rps / base.rps) * 100).toFixed(1)}%`,
        'cpu µs/req': Math.round(r.cpuPerRequest),
        'cpu vs bare': `${(r.cpuPerRequest / base.cpuPerRequest).toFixed(2)}×`,
        'p50 ms': r.p50,
        'p99 ms': r.p99,
        'added p50 ms': r.p50 - base.p50,
        'added p99 ms': r.p99 - base.p99,
      })
    }
  }
  console.table(rows)
  console.log(JSON.stringify({ connections, seconds, warmup, rounds, database: process.env.DATABASE_URL ? 'postgresql' : 'pglite', rows, samples: results.map((r) => ({ scenario: r.scenario, target: r.target, rounds: r.rounds })) }, null, 2))
} finally {
  for (const c of children) {
    c.kill('SIGTERM')
  }
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)))
}
