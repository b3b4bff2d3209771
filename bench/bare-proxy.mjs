// The baseline: a bare fastify + undici proxy doing the least a JSON proxy does (parse the body,
// forward it, pass the answer through). Runs in its own process; prints its port on stdout.
import { createRequire } from 'node:module'
import Fastify from 'fastify'

// The same undici the gateway uses (core's own dependency), so the comparison is like for like.
const requireFromCore = createRequire(new URL('../packages/core/package.json', import.meta.url))
const { Pool } = requireFromCore('undici')

const upstream = process.argv[2]
const pool = new Pool(upstream, { connections: 128, pipelining: 1 })
const app = Fastify({ logger: false })
app.post('/v1/chat/completions', async (request, reply) => {
  const res = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
    body: JSON.stringify(request.body),
  })
  reply.code(res.statusCode).header('content-type', res.headers['content-type'])
  return reply.send(res.body)
})
await app.listen({ port: 0, host: '127.0.0.1' })
console.log(JSON.stringify({ port: app.server.address().port }))
