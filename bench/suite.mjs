// The benchmark suite (`npm run bench`): in front of one fake upstream, back to back in one run,
//   1. a bare fastify + undici proxy (the baseline),
//   2. the gateway with core only,
//   3. the full reference assembly (every bundled plugin on, through the reference server's config),
//   4. Portkey's open-source gateway (@portkey-ai/gateway),
// non-stream and stream. The upstream, every server and the load generator (autocannon) each run in
// their own process. Prints requests/s, p50/p99 latency and the latency added to the bare proxy's,
// time-to-first-token overhead, CPU time per request and peak RSS of each server, as a table and as
// JSON, and checks the targets. Not a test: runs vary by tens of percent on a shared machine, so
// compare only within one run (targets are measured in alternation, each figure the median of rounds).
// On PostgreSQL each gateway has a database of its own (created and dropped by the run); before
// each round every target is left to finish work earlier rounds queued (usage flushes, rollups,
// settlement), and a target's CPU per request includes the work its round left behind.
//
//   npm run bench                                   # 50 connections, 5 s warm-up, 2 rounds of 10 s each
//   BENCH_SECONDS=30 BENCH_WARMUP=30 BENCH_ROUNDS=3 npm run bench
//   BENCH_TARGETS=bare,core,full BENCH_SCENARIOS=non-stream BENCH_CONNECTIONS=100 npm run bench
//   BENCH_PLUGINS=audit,guardrails npm run bench    # the full assembly with only these plugins
//   BENCH_FROM_SRC=1 node bench/suite.mjs           # run workspace sources (no build) through tsx
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { createInterface } from 'node:readline'

const root = new URL('..', import.meta.url).pathname
const here = new URL('.', import.meta.url).pathname
const env = (name, fallback) => Number(process.env[name] ?? fallback)
const connections = env('BENCH_CONNECTIONS', 50)
const seconds = env('BENCH_SECONDS', 10)
const warmup = env('BENCH_WARMUP', 5)
const rounds = env('BENCH_ROUNDS', 2)
const ttftSamples = env('BENCH_TTFT_SAMPLES', 200)
const only = (name, list) => !process.env[name] || process.env[name].split(',').includes(list)
const nodeArgs = process.env.BENCH_FROM_SRC ? ['--conditions=tollgate-src', `--import=${root}test-support/tsx-register.mjs`] : []
const quiet = !process.env.BENCH_VERBOSE
const children = []

/** Starts a bench process; resolves with the first JSON line it prints. */
async function start(script, args = [], extraArgs = nodeArgs, env = process.env) {
  const child = spawn(process.execPath, [...extraArgs, `${here}${script}`, ...args], { stdio: ['ignore', 'pipe', quiet ? 'ignore' : 'inherit'], env, cwd: root })
  children.push(child)
  const lines = createInterface({ input: child.stdout })
  for await (const line of lines) {
    if (line.startsWith('{')) {
      // Keep draining stdout so a chatty child never blocks on a full pipe.
      child.stdout.resume()
      return { ...JSON.parse(line), pid: child.pid }
    }
  }
  throw new Error(`${script} exited before it was ready (BENCH_VERBOSE=1 shows its output)`)
}

/** Portkey's gateway on a free port, bound to 127.0.0.1 by the preload; resolves when it accepts connections. */
async function startPortkey() {
  const port = 20000 + Math.floor(Math.random() * 20000)
  const entry = `${root}node_modules/@portkey-ai/gateway/build/start-server.js`
  const child = spawn(process.execPath, [`--import=${here}loopback-only.mjs`, entry, `--port=${port}`, '--headless'], { stdio: ['ignore', quiet ? 'ignore' : 'inherit', quiet ? 'ignore' : 'inherit'], env: process.env, cwd: root })
  children.push(child)
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`Portkey's gateway exited with ${child.exitCode} (BENCH_VERBOSE=1 shows its output)`)
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return { port, pid: child.pid }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error("Portkey's gateway did not start listening")
}

/** Runs the load generator in its own process. */
async function load(target, scenario, duration, samples) {
  const child = spawn(process.execPath, [`${here}load.mjs`, JSON.stringify({ url: target.url, body: scenario.body, headers: target.headers, connections, duration, ttftSamples: samples })], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`load generator failed against ${target.name}`)
  return JSON.parse(out.trim().split('\n').at(-1))
}

/**
 * Each gateway gets a database of its own on the PostgreSQL server (DATABASE_URL): on a shared one
 * the full assembly's background consumers (rollups, settlement, the audit request log) would
 * also work through the core-only gateway's usage events, during the core-only rounds. Dropped
 * at the end.
 */
const benchDatabases = []
async function ownDatabase(name) {
  if (!process.env.DATABASE_URL) return process.env
  const { default: pg } = await import('pg')
  const db = `tg_bench_${name}_${Date.now().toString(36)}`
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  try {
    await admin.query(`create database ${db}`)
  } finally {
    await admin.end()
  }
  benchDatabases.push(db)
  const url = new URL(process.env.DATABASE_URL)
  url.pathname = `/${db}`
  return { ...process.env, DATABASE_URL: url.toString() }
}

async function dropDatabases() {
  if (!process.env.DATABASE_URL || benchDatabases.length === 0) return
  const { default: pg } = await import('pg')
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  try {
    for (const db of benchDatabases) await admin.query(`drop database if exists ${db} with (force)`)
  } finally {
    await admin.end()
  }
}

/**
 * Waits (at most 30 s) until no target is still busy with work a previous round left (a usage
 * flush, a rollup or settlement batch): below 5% of a core over half a second each. Otherwise
 * that work would run during, and be charged to, the next target's round.
 */
async function quiesce(targets) {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const before = targets.map((t) => cpuMicros(t.pid))
    await new Promise((r) => setTimeout(r, 500))
    if (targets.every((t, i) => cpuMicros(t.pid) - before[i] < 25_000)) return
  }
}

function median(values) {
  const sorted = values.filter((v) => v !== undefined).sort((a, b) => a - b)
  if (sorted.length === 0) return undefined
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc. */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100
}

/** Peak resident set size of a process so far, in MiB (VmHWM). */
function peakRssMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Math.round(Number(m[1]) / 1024) : undefined
}

const messages = [{ role: 'user', content: 'Summarise the following text. '.concat('lorem ipsum '.repeat(60)) }]
const scenarios = [
  { name: 'non-stream', body: { model: 'bench-model', messages } },
  { name: 'stream', body: { model: 'bench-model', messages, stream: true, stream_options: { include_usage: true } } },
].filter((s) => only('BENCH_SCENARIOS', s.name))

const results = []
let pluginsLoaded = []
try {
  const upstream = await start('fake-upstream.mjs', [], [])
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`
  const targets = []
  if (only('BENCH_TARGETS', 'bare')) {
    const bare = await start('bare-proxy.mjs', [upstreamUrl], [])
    targets.push({ key: 'bare', name: 'bare fastify+undici proxy', url: `http://127.0.0.1:${bare.port}/v1/chat/completions`, headers: {}, pid: bare.pid })
  }
  if (only('BENCH_TARGETS', 'core')) {
    const core = await start('gateway-core.mjs', [upstreamUrl], nodeArgs, await ownDatabase('core'))
    targets.push({ key: 'core', name: 'gateway (core only)', url: `http://127.0.0.1:${core.port}/v1/chat/completions`, headers: { authorization: `Bearer ${core.apiKey}` }, pid: core.pid })
  }
  if (only('BENCH_TARGETS', 'full')) {
    const full = await start('gateway-full.mjs', [upstreamUrl], nodeArgs, await ownDatabase('full'))
    pluginsLoaded = full.plugins
    targets.push({ key: 'full', name: 'gateway (full assembly)', url: `http://127.0.0.1:${full.port}/v1/chat/completions`, headers: { authorization: `Bearer ${full.apiKey}` }, pid: full.pid })
  }
  if (only('BENCH_TARGETS', 'portkey')) {
    const portkey = await startPortkey()
    targets.push({
      key: 'portkey',
      name: "Portkey's gateway",
      url: `http://127.0.0.1:${portkey.port}/v1/chat/completions`,
      headers: { authorization: 'Bearer sk-bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstreamUrl}/v1` },
      pid: portkey.pid,
    })
  }
  if (targets.length === 0) throw new Error('BENCH_TARGETS selects no target (bare, core, full, portkey)')

  for (const scenario of scenarios) {
    for (const target of targets) {
      process.stderr.write(`warming up ${target.name} (${scenario.name}) for ${warmup}s…\n`)
      const w = await load(target, scenario, warmup, 0)
      if ((w.non2xx > 0 || w.errors > 0) && target.key !== 'portkey') throw new Error(`${target.name} answered ${w.non2xx} non-2xx responses and ${w.errors} errors during warm-up (BENCH_VERBOSE=1 shows its log)`)
    }
    const samples = new Map(targets.map((t) => [t.key, []]))
    for (let round = 1; round <= rounds; round++) {
      for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
        await quiesce(targets)
        process.stderr.write(`round ${round}/${rounds}: ${target.name} (${scenario.name}) for ${seconds}s…\n`)
        const cpuBefore = cpuMicros(target.pid)
        const r = await load(target, scenario, seconds, scenario.name === 'stream' && round === 1 ? ttftSamples : 0)
        // Background work the round queued (rollups, settlement, request-log copies) is its cost too.
        await quiesce([target])
        const cpu = cpuMicros(target.pid) - cpuBefore
        // Our own targets must answer every request; the peer's failures are reported, not fatal.
        if ((r.non2xx > 0 || r.errors > 0) && target.key !== 'portkey') throw new Error(`${target.name}: ${r.non2xx} non-2xx, ${r.errors} errors`)
        samples.get(target.key).push({ ...r, cpuPerRequest: cpu / (r.total + (r.ttft?.samples ?? 0)) })
      }
    }
    for (const target of targets) {
      const s = samples.get(target.key)
      const med = (f) => median(s.map(f))
      results.push({ scenario: scenario.name, key: target.key, target: target.name, failed: s.reduce((a, x) => a + x.non2xx + x.errors, 0), rps: med((x) => x.rps), p50: med((x) => x.p50), p99: med((x) => x.p99), cpuPerRequest: med((x) => x.cpuPerRequest), ttftP50: med((x) => x.ttft?.p50), ttftP99: med((x) => x.ttft?.p99), rounds: s })
    }
  }
  for (const target of targets) for (const r of results.filter((x) => x.key === target.key)) r.peakRssMiB = peakRssMiB(target.pid)
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)))
  await dropDatabases()
}

const round2 = (v) => (v === undefined ? undefined : Math.round(v * 100) / 100)
const rows = []
for (const scenario of scenarios) {
  const base = results.find((r) => r.scenario === scenario.name && r.key === 'bare')
  for (const r of results.filter((x) => x.scenario === scenario.name)) {
    rows.push({
      scenario: r.scenario,
      target: r.target,
      'req/s': Math.round(r.rps),
      'vs bare': base ? `${((r.rps / base.rps) * 100).toFixed(1)}%` : '',
      'p50 ms': r.p50,
      'p99 ms': r.p99,
      'added p50 ms': base ? r.p50 - base.p50 : '',
      'added p99 ms': base ? r.p99 - base.p99 : '',
      'ttft p50 ms': round2(r.ttftP50) ?? '',
      'ttft added ms': base && r.ttftP50 !== undefined && base.ttftP50 !== undefined ? round2(r.ttftP50 - base.ttftP50) : '',
      'cpu µs/req': Math.round(r.cpuPerRequest),
      'peak RSS MiB': r.peakRssMiB,
      'non-2xx': r.failed,
    })
  }
}

/** The targets, judged on this run's figures (non-stream, at the configured connections). */
const checks = []
const pick = (key, scenario = 'non-stream') => results.find((r) => r.key === key && r.scenario === scenario)
for (const scenario of scenarios.map((s) => s.name)) {
  const bare = pick('bare', scenario)
  const full = pick('full', scenario)
  const portkey = pick('portkey', scenario)
  if (bare && full && scenario === 'non-stream') {
    checks.push({ target: `full assembly ≥ 80% of bare proxy req/s (${connections} connections)`, value: `${((full.rps / bare.rps) * 100).toFixed(1)}%`, met: full.rps >= 0.8 * bare.rps })
    checks.push({ target: `full assembly adds ≤ 2 ms p99 (${connections} connections)`, value: `${full.p99 - bare.p99} ms`, met: full.p99 - bare.p99 <= 2 })
  }
  if (full && portkey) {
    checks.push({ target: `full assembly ahead of Portkey on req/s (${scenario})`, value: `${Math.round(full.rps)} vs ${Math.round(portkey.rps)}`, met: full.rps > portkey.rps })
    if (bare) checks.push({ target: `full assembly adds less p99 latency than Portkey (${scenario})`, value: `${full.p99 - bare.p99} vs ${portkey.p99 - bare.p99} ms`, met: full.p99 - bare.p99 < portkey.p99 - bare.p99 })
  }
}

console.table(rows)
if (checks.length > 0) console.table(checks)
console.log(
  JSON.stringify(
    {
      connections,
      seconds,
      warmup,
      rounds,
      ttftSamples,
      database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
      plugins: pluginsLoaded,
      node: process.version,
      rows,
      checks,
      samples: results.map((r) => ({ scenario: r.scenario, target: r.target, rounds: r.rounds })),
    },
    null,
    2,
  ),
)
