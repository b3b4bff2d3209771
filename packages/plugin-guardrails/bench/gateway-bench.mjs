// Gateway throughput with guardrails on (every system rule, default policy) versus core only, in
// one run: the root bench's fake upstream and load generator, each gateway in its own process,
// measured in alternating rounds; prints requests/s of each and the ratio. Keep runs short here:
//
//   node packages/plugin-guardrails/bench/gateway-bench.mjs          # 3 s warm-up, 3 rounds of 5 s
//   BENCH_SECONDS=10 BENCH_ROUNDS=3 node packages/plugin-guardrails/bench/gateway-bench.mjs
//
// With GUARDRAILS_BASELINE=<a copy of an earlier src/ directory>, a third gateway runs that
// version of the plugin, so before and after are measured in the same rounds.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'

const root = new URL('../../../', import.meta.url).pathname
const here = new URL('.', import.meta.url).pathname
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const warmup = Number(process.env.BENCH_WARMUP ?? 3)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const srcArgs = ['--conditions=tollgate-src', `--import=${root}test-support/tsx-register.mjs`]
const children = []

async function start(script, args, extra = []) {
  const child = spawn(process.execPath, [...extra, script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root })
  children.push(child)
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('{')) {
      child.stdout.resume()
      return JSON.parse(line)
    }
  }
  throw new Error(`${script} exited before it was ready`)
}

/** CPU seconds (user + system) a child process has used so far, from /proc (Linux). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function load(url, headers, body, duration) {
  const child = spawn(process.execPath, [`${root}bench/load.mjs`, JSON.stringify({ url, body, headers, connections, duration, ttftSamples: 0 })], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error('load generator failed')
  return JSON.parse(out.trim().split('\n').at(-1))
}

// A realistic ~2 KB prompt with an email to redact, so the guarded gateway really rewrites requests.
const content = `Please review this message from ada.lovelace@example.org. ${'The analytical engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves. '.repeat(20)}`
const body = { model: 'bench-model', messages: [{ role: 'user', content }] }
try {
  const upstream = await start(`${root}bench/fake-upstream.mjs`, [])
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`
  const core = await start(`${here}gateway-guarded.mjs`, [upstreamUrl, 'core'], srcArgs)
  const guarded = await start(`${here}gateway-guarded.mjs`, [upstreamUrl, 'guardrails'], srcArgs)
  const targets = [
    { name: 'core only', url: `http://127.0.0.1:${core.port}/v1/chat/completions`, headers: { authorization: `Bearer ${core.apiKey}` }, rps: [] },
    { name: 'guardrails on', url: `http://127.0.0.1:${guarded.port}/v1/chat/completions`, headers: { authorization: `Bearer ${guarded.apiKey}` }, rps: [] },
  ]
  if (process.env.GUARDRAILS_BASELINE) {
    const baseline = await start(`${here}gateway-guarded.mjs`, [upstreamUrl, 'baseline', process.env.GUARDRAILS_BASELINE], srcArgs)
    targets.push({ name: 'guardrails on (baseline)', url: `http://127.0.0.1:${baseline.port}/v1/chat/completions`, headers: { authorization: `Bearer ${baseline.apiKey}` }, rps: [] })
  }
  // Each gateway is its own process (started in this order): CPU time per request is what survives a busy machine best.
  targets.forEach((t, i) => {
    t.pid = children[i + 1].pid
    t.cpuPerReq = []
  })
  for (const t of targets) await load(t.url, t.headers, body, warmup)
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const cpu0 = cpuSeconds(t.pid)
      const res = await load(t.url, t.headers, body, seconds)
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`${t.name}: ${res.non2xx} non-2xx, ${res.errors} errors`)
      t.rps.push(res.rps)
      t.cpuPerReq.push(((cpuSeconds(t.pid) - cpu0) * 1e6) / res.total)
    }
  }
  const median = (v) => {
    const s = [...v].sort((a, b) => a - b)
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  }
  const [c, g] = targets.map((t) => median(t.rps))
  // Each round measures all back to back, so the per-round ratio cancels most of the machine's drift.
  const ratiosOf = (t) => targets[0].rps.map((core, i) => t.rps[i] / core)
  const ratios = ratiosOf(targets[1])
  console.table(targets.map((t) => ({ target: t.name, 'req/s (median)': Math.round(median(t.rps)), rounds: t.rps.map(Math.round).join(' / '), 'gateway CPU µs/request (median)': Math.round(median(t.cpuPerReq)), 'CPU vs core': (median(t.cpuPerReq) / median(targets[0].cpuPerReq)).toFixed(2) })))
  const shape = `non-stream, ~2 KB prompt with an email to redact, ${connections} connections, ${rounds} × ${seconds} s; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`
  for (const t of targets.slice(1)) {
    const r = ratiosOf(t)
    console.log(`${t.name} / core only: median of per-round ratios ${median(r).toFixed(2)} (rounds: ${r.map((x) => x.toFixed(2)).join(', ')}); ${shape}`)
  }
  const baselineRatios = targets[2] && ratiosOf(targets[2])
  const cpu = targets.map((t) => Math.round(median(t.cpuPerReq)))
  console.log(`gateway CPU per request (median of rounds): ${targets.map((t, i) => `${t.name} ${cpu[i]} µs`).join(', ')}; guardrails on / core only ${(cpu[1] / cpu[0]).toFixed(2)}`)
  console.log(JSON.stringify({ coreRps: c, guardedRps: g, ratio: median(ratios), ratios, cpuPerRequestUs: cpu, ...(baselineRatios && { baselineRps: median(targets[2].rps), baselineRatio: median(baselineRatios), baselineRatios }) }))
} finally {
  for (const child of children) child.kill('SIGTERM')
}
