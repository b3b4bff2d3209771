// The load generator, in its own process: autocannon against one URL for a while, then (for
// streams) time-to-first-token samples one request at a time. Prints one JSON line:
// { rps, p50, p99, total, non2xx, errors, ttft?: { p50, p99, samples } } (latencies in ms).
//
//   node bench/load.mjs '{"url":"…","body":{…},"headers":{…},"connections":50,"duration":10,"ttftSamples":200}'
import autocannon from 'autocannon'

const spec = JSON.parse(process.argv[2])
const body = JSON.stringify(spec.body)
const headers = { 'content-type': 'application/json', ...spec.headers }

const result = await new Promise((resolve, reject) => {
  autocannon({ url: spec.url, method: 'POST', connections: spec.connections, duration: spec.duration, body, headers }, (err, r) => (err ? reject(err) : resolve(r)))
})

/** Time to the first byte of the answer body, one request at a time (no queueing in the figure). */
async function ttft(samples) {
  const times = []
  let failed = 0
  for (let i = 0; i < samples; i++) {
    const started = performance.now()
    const res = await fetch(spec.url, { method: 'POST', headers, body })
    const reader = res.body.getReader()
    const first = await reader.read()
    const ms = performance.now() - started
    if (!first.done) while (!(await reader.read()).done);
    // A failed answer's first byte is not a first token.
    if (res.status === 200) times.push(ms)
    else failed++
  }
  if (times.length === 0) return { samples, failed }
  times.sort((a, b) => a - b)
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))]
  return { p50: at(0.5), p99: at(0.99), samples, failed }
}

const out = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  total: result.requests.total,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
}
if (spec.ttftSamples > 0 && out.non2xx === 0) out.ttft = await ttft(spec.ttftSamples)
console.log(JSON.stringify(out))
