// The load generator, in its own process: autocannon against one gateway for a while, rotating
// through the given API keys request by request. Prints {rps, p50, p99, total, non2xx, errors}.
import autocannon from 'autocannon'

const spec = JSON.parse(process.argv[2])
const body = JSON.stringify({ model: 'bench-model', max_tokens: 256, messages: [{ role: 'user', content: 'x'.repeat(900) }] })
let next = 0
const result = await new Promise((resolve, reject) => {
  autocannon(
    {
      url: spec.url,
      connections: spec.connections,
      duration: spec.duration,
      requests: [
        {
          method: 'POST',
          path: '/v1/chat/completions',
          body,
          setupRequest(req) {
            const key = spec.keys[next++ % spec.keys.length]
            return { ...req, headers: { ...req.headers, 'content-type': 'application/json', authorization: `Bearer ${key}` } }
          },
        },
      ],
    },
    (err, r) => (err ? reject(err) : resolve(r)),
  )
})
console.log(JSON.stringify({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, non2xx: result.non2xx, errors: result.errors }))
