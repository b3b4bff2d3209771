// Gateway throughput with guardrails on (every system rule, default policy) versus core only, in
// one run: the root bench's fake upstream and load generator, each gateway in its own process,
// measured in alternating rounds; prints requests/s of each and the ratio. Keep runs short here:
//
//   node packages/plugin-guardrails/bench/gateway-bench.mjs          # 3 s warm-up, 3 rounds of 5 s
//   BENCH_SECONDS=10 BENCH_ROUNDS=3 node packages/plugin-guardrails/bench/gateway-bench.mjs
import { spawn } from 'node:child_process'
import { once } from 'node:events'
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
  for (const t of targets) await load(t.url, t.headers, body, warmup)
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const res = await load(t.url, t.headers, body, seconds)
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`${t.name}: ${res.non2xx} non-2xx, ${res.errors} errors`)
      t.rps.push(res.rps)
    }
  }
  const median = (v) => {
    const s = [...v].sort((a, b) => a - b)
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  }
  const [c, g] = targets.map((t) => median(t.rps))
  // Each round measures both back to back, so the per-round ratio cancels most of the machine's drift.
  const ratios = targets[0].rps.map((core, i) => targets[1].rps[i] / core)
  console.table(targets.map((t) => ({ target: t.name, 'req/s (median)': Math.round(median(t.rps)), rounds: t.rps.map(Math.round).join(' / ') })))
  console.log(`guardrails on / core only: median of per-round ratios ${median(ratios).toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')}); non-stream, ~2 KB prompt with an email to redact, ${connections} connections, ${rounds} × ${seconds} s; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log(JSON.stringify({ coreRps: c, guardedRps: g, ratio: median(ratios), ratios }))
} finally {
  for (const child of children) child.kill('SIGTERM')
}
