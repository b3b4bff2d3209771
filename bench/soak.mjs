// Memory soak (a script, not a CI test): the full reference assembly under steady load for
// BENCH_SOAK_MINUTES (default 10), alternating non-stream and stream traffic in 30 s slices, while
// its own /metrics is read every slice (resident memory, V8 heap used, usage queue depth). After
// a warm-up minute it fits a line through heap-used and reports the growth per minute; it exits
// non-zero when memory is not bounded (heap at the end above 1.25× its warm-up level + 32 MiB, or
// the usage queue not drained at the end).
//
//   npm run bench:soak                             # 10 minutes
//   BENCH_SOAK_MINUTES=2 BENCH_CONNECTIONS=20 node bench/soak.mjs
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

const here = new URL('.', import.meta.url).pathname
const root = new URL('..', import.meta.url).pathname
const minutes = Number(process.env.BENCH_SOAK_MINUTES ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const slice = Number(process.env.BENCH_SOAK_SLICE ?? 30)
const nodeArgs = process.env.BENCH_FROM_SRC ? ['--conditions=tollgate-src', `--import=${root}test-support/tsx-register.mjs`] : []
const children = []

async function start(script, args, extra) {
  const child = spawn(process.execPath, [...extra, `${here}${script}`, ...args], { stdio: ['ignore', 'pipe', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore'], env: process.env })
  children.push(child)
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('{')) {
      child.stdout.resume()
      return { ...JSON.parse(line), pid: child.pid }
    }
  }
  throw new Error(`${script} exited before it was ready`)
}

async function load(url, headers, body, duration) {
  const child = spawn(process.execPath, [`${here}load.mjs`, JSON.stringify({ url, body, headers, connections, duration, ttftSamples: 0 })], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  await once(child, 'exit')
  return JSON.parse(out.trim().split('\n').at(-1))
}

async function memory(base) {
  const text = await (await fetch(`${base}/metrics`)).text()
  const read = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { rssMiB: read('process_resident_memory_bytes') / 2 ** 20, heapMiB: read('nodejs_heap_size_used_bytes') / 2 ** 20, queue: read('tollgate_usage_queue_events') }
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length
  const mx = points.reduce((a, p) => a + p.x, 0) / n
  const my = points.reduce((a, p) => a + p.y, 0) / n
  const num = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0)
  const den = points.reduce((a, p) => a + (p.x - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

const messages = [{ role: 'user', content: 'Summarise the following text. '.concat('lorem ipsum '.repeat(60)) }]
let verdict = 1
try {
  const upstream = await start('fake-upstream.mjs', [], [])
  const gw = await start('gateway-full.mjs', [`http://127.0.0.1:${upstream.port}`], nodeArgs)
  const base = `http://127.0.0.1:${gw.port}`
  const headers = { authorization: `Bearer ${gw.apiKey}` }
  const samples = []
  const started = Date.now()
  let requests = 0
  for (let i = 0; Date.now() - started < minutes * 60_000; i++) {
    const stream = i % 2 === 1
    const r = await load(`${base}/v1/chat/completions`, headers, { model: 'bench-model', messages, stream }, slice)
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx and ${r.errors} errors in slice ${i}`)
    requests += r.total
    const m = await memory(base)
    const sample = { minute: (Date.now() - started) / 60_000, requests, rps: Math.round(r.rps), ...m }
    samples.push(sample)
    process.stderr.write(`${sample.minute.toFixed(1)} min: ${requests} requests, rss ${m.rssMiB.toFixed(0)} MiB, heap ${m.heapMiB.toFixed(1)} MiB, queue ${m.queue}\n`)
  }
  await new Promise((r) => setTimeout(r, 2000))
  const settled = await memory(base)
  const steady = samples.filter((s) => s.minute >= Math.min(1, minutes / 4))
  const warm = steady.slice(0, 2)
  const end = steady.slice(-2)
  const avg = (xs, k) => xs.reduce((a, s) => a + s[k], 0) / xs.length
  const heapStart = avg(warm, 'heapMiB')
  const heapEnd = avg(end, 'heapMiB')
  const summary = {
    minutes,
    connections,
    requests,
    database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
    plugins: gw.plugins,
    heapMiB: { warm: +heapStart.toFixed(1), end: +heapEnd.toFixed(1), growthPerMinute: +slope(steady.map((s) => ({ x: s.minute, y: s.heapMiB }))).toFixed(2) },
    rssMiB: { warm: +avg(warm, 'rssMiB').toFixed(0), end: +avg(end, 'rssMiB').toFixed(0), growthPerMinute: +slope(steady.map((s) => ({ x: s.minute, y: s.rssMiB }))).toFixed(2) },
    usageQueueAfterLoad: settled.queue,
  }
  const bounded = heapEnd <= heapStart * 1.25 + 32 && settled.queue === 0
  console.table(samples.map((s) => ({ minute: s.minute.toFixed(1), requests: s.requests, 'req/s': s.rps, 'rss MiB': s.rssMiB.toFixed(0), 'heap MiB': s.heapMiB.toFixed(1), queue: s.queue })))
  console.log(JSON.stringify({ ...summary, bounded }, null, 2))
  verdict = bounded ? 0 : 1
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)))
}
process.exitCode = verdict
