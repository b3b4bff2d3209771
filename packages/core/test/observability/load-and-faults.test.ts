import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { openAIChunk, startTinyUpstream } from '../support/tiny-upstream.ts'
import { eventually, sampleValue } from './helpers.ts'

/** POSTs JSON over a plain http request; resolves with status, body and the time it took (ms). */
function post(url: string, body: unknown, headers: Record<string, string>, agent?: Agent): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ms: performance.now() - started }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

t.test('1,000 concurrent streaming clients are all served in full', async (t) => {
  // Each upstream stream sends its first chunk at once, then holds until all clients are streaming
  // (or 60 s pass), so the 1,000 streams are provably open through the gateway at the same time.
  const clients = 1000
  let open = 0
  let peak = 0
  const held: (() => void)[] = []
  let released = false
  const releaseAll = () => {
    released = true
    for (const go of held.splice(0)) go()
  }
  const deadline = setTimeout(releaseAll, 60_000)
  const upstream = await startTinyUpstream((_req, body, res) => {
    if (body?.messages?.[0]?.content === 'warm') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      return res.end(`${openAIChunk('warm')}data: [DONE]\n\n`)
    }
    open++
    peak = Math.max(peak, open)
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(openAIChunk('one '))
    held.push(() => {
      res.write(openAIChunk('two three'))
      res.write(openAIChunk(null, { choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }))
      res.end('data: [DONE]\n\n')
      open--
    })
    if (released) releaseAll()
    else if (held.length >= clients) setTimeout(releaseAll, 300)
  })
  t.teardown(() => clearTimeout(deadline))
  t.teardown(() => upstream.close())
  const gw = await createTestGateway({
    config: {
      providers: [{ id: 'vendor', kind: 'openai', baseUrl: upstream.url, apiKey: 'sk-x', connections: 1200 }],
      models: [{ name: 'gpt-test', provider: 'vendor', prices: { input: '1', output: '1' } }],
    },
  })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })
  t.teardown(() => agent.destroy())

  // One request first, so the API key is cached as it would be on a running gateway.
  const first = await post(`${url}/v1/chat/completions`, { model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'warm' }] }, { authorization: `Bearer ${gw.apiKey}` })
  t.equal(first.status, 200, 'warm-up')
  let inflightSeen = 0
  const sampler = setInterval(async () => {
    const text = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body
    inflightSeen = Math.max(inflightSeen, sampleValue(text, 'tollgate_proxy_inflight_streams') ?? 0)
  }, 250)
  const started = performance.now()
  // Connections open in waves of 100 (a burst of 1,000 SYNs at once would overflow the listen
  // backlog of a busy machine); the upstream holds every stream, so all end up open together.
  const pending: Promise<Awaited<ReturnType<typeof post>>>[] = []
  for (let i = 0; i < clients; i++) {
    if (i > 0 && i % 100 === 0) await new Promise((r) => setTimeout(r, 50))
    pending.push(post(`${url}/v1/chat/completions`, { model: 'gpt-test', stream: true, messages: [{ role: 'user', content: `client ${i}` }] }, { authorization: `Bearer ${gw.apiKey}` }, agent))
  }
  const results = await Promise.all(pending)
  clearInterval(sampler)
  const elapsed = performance.now() - started
  const bad = results.filter((r) => r.status !== 200 || !r.body.includes('three') || !r.body.endsWith('data: [DONE]\n\n'))
  t.equal(bad.length, 0, `every client got its whole stream (${bad.length} did not)`)
  t.equal(peak, clients, `the streams ran concurrently: ${peak} open upstream at once`)
  t.ok(inflightSeen >= clients * 0.9, `the in-flight streams gauge saw them (${inflightSeen})`)
  t.ok(!released || peak === clients, `served in ${Math.round(elapsed)} ms`)
  const text = await eventually(async () => {
    const s = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body
    return sampleValue(s, 'tollgate_proxy_requests_total', { status: '200' }) === clients + 1 ? s : undefined
  }, 10_000, 'every request to be counted')
  t.equal(sampleValue(text, 'tollgate_proxy_inflight_streams'), 0, 'no stream left open')
  t.equal(sampleValue(text, 'tollgate_proxy_inflight_requests'), 0)
})

t.test('slowloris connections are closed by the header timeout while normal requests keep their latency', async (t) => {
  const gw = await createTestGateway({ config: { server: { headersTimeoutMs: 1000 } } })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const port = Number(new URL(url).port)
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  t.teardown(() => agent.destroy())
  const call = () => post(`${url}/v1/chat/completions`, { model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${gw.apiKey}` }, agent)
  const latencies = async (n: number) => {
    const ms: number[] = []
    for (let i = 0; i < n; i++) {
      const r = await call()
      if (r.status !== 200) throw new Error(`status ${r.status}`)
      ms.push(r.ms)
    }
    return ms.sort((a, b) => a - b)[Math.floor(n / 2)]
  }
  await latencies(20) // warm-up
  const before = await latencies(40)

  // 300 clients each sending a header line every 200 ms, never finishing the head.
  const attackers: Socket[] = []
  const closedAt: number[] = []
  const opened = performance.now()
  const drip = setInterval(() => {
    for (const s of attackers) if (!s.destroyed) s.write(`x-slow-${Math.floor(Math.random() * 1e6)}: a\r\n`)
  }, 200)
  for (let i = 0; i < 300; i++) {
    const s = connect(port, '127.0.0.1', () => s.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n'))
    s.on('error', () => undefined)
    s.on('close', () => closedAt.push(performance.now() - opened))
    s.resume()
    attackers.push(s)
  }
  t.teardown(() => {
    clearInterval(drip)
    for (const s of attackers) s.destroy()
  })
  await new Promise((r) => setTimeout(r, 300))
  const during = await latencies(40)
  await eventually(() => (closedAt.length === attackers.length ? true : undefined), 5000, 'the slow connections to be closed')
  clearInterval(drip)
  const last = Math.max(...closedAt)
  t.ok(last < 1000 + 1500, `every slow connection was closed by the server, the last after ${Math.round(last)} ms (timeout 1000 ms)`)
  t.ok(Math.min(...closedAt) >= 900, 'not before the timeout')
  t.ok(during < before * 3 + 15, `normal requests keep their latency: median ${during.toFixed(1)} ms during the attack, ${before.toFixed(1)} ms before`)
})

t.test('oversized bodies are refused with 413 before being read whole, announced or chunked', async (t) => {
  const limit = 64 * 1024
  const gw = await createTestGateway({ config: { server: { bodyLimitBytes: limit } } })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const port = Number(new URL(url).port)
  const head = (extra: string) => `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\ncontent-type: application/json\r\n${extra}\r\n`

  // Announced: 100 MB in Content-Length, 1 KB sent; the answer comes at once.
  const announced = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${head(`content-length: ${100 * 1024 * 1024}\r\n`)}{"model":"mock-echo","messages":[{"role":"user","content":"${'a'.repeat(1000)}`))
    let data = ''
    const timer = setTimeout(() => reject(new Error('no answer without the whole body')), 3000)
    s.on('data', (d) => {
      data += d
      if (data.includes('\r\n\r\n') && data.includes('}')) {
        clearTimeout(timer)
        s.destroy()
        resolve(data)
      }
    })
    s.on('error', () => undefined)
  })
  t.match(announced, /^HTTP\/1.1 413/)
  t.match(announced, /TOLLGATE_ERR_REQUEST_TOO_LARGE/)

  // Chunked, no length: the server answers once the limit is passed, not at the end of the body.
  const chunked = await new Promise<{ answer: string; sent: number }>((resolve, reject) => {
    let sent = 0
    let answer = ''
    const s = connect(port, '127.0.0.1', () => {
      s.write(head('transfer-encoding: chunked\r\n'))
      const piece = 'a'.repeat(8 * 1024)
      const pump = () => {
        while (!answer && sent < 50 * 1024 * 1024) {
          sent += piece.length
          if (!s.write(`${piece.length.toString(16)}\r\n${piece}\r\n`)) return s.once('drain', pump)
        }
      }
      pump()
    })
    const timer = setTimeout(() => reject(new Error('no 413 while sending 50 MB')), 10_000)
    s.on('data', (d) => {
      answer += d
      if (answer.includes('\r\n\r\n')) {
        clearTimeout(timer)
        s.destroy()
        resolve({ answer, sent })
      }
    })
    s.on('error', () => undefined)
  })
  t.match(chunked.answer, /^HTTP\/1.1 413/)
  t.ok(chunked.sent < 8 * 1024 * 1024, `refused after ${Math.round(chunked.sent / 1024)} KiB of a 50 MiB body`)

  const text = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body
  t.equal(sampleValue(text, 'tollgate_http_responses_total', { method: 'POST', route: '/v1/chat/completions', status_class: '4xx' }), 2, 'both refusals are counted')
})

t.test('deeply nested JSON is refused before parsing, at exactly the configured depth', async (t) => {
  const gw = await createTestGateway({ config: { server: { maxJsonDepth: 16 } } })
  t.teardown(() => gw.close())
  const send = (payload: string) => gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, payload })
  // The body object is depth 1, messages 2, a message 3, so metadata nests from 4.
  const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
  const body = (extraDepth: number) => `{"model":"mock-echo","messages":[{"role":"user","content":"hi"}],"metadata":${nested(extraDepth)}}`
  const atLimit = await send(body(15))
  t.not(atLimit.json().error?.message ?? '', /nested deeper/, 'depth 16 is accepted by the parser')
  const over = await send(body(16))
  t.equal(over.statusCode, 400)
  t.equal(over.json().error.code, 'TOLLGATE_ERR_REQUEST_INVALID_JSON')
  t.match(over.json().error.message, /nested deeper than 16 levels/)
  // A hostile body: a million levels, refused quickly without building it.
  const started = performance.now()
  const hostile = await send(`{"model":"mock-echo","messages":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`)
  t.equal(hostile.statusCode, 400)
  t.ok(performance.now() - started < 1000, `refused in ${Math.round(performance.now() - started)} ms`)
  // Brackets inside strings do not count.
  const inString = await send(`{"model":"mock-echo","messages":[{"role":"user","content":"${'['.repeat(100)}"}]}`)
  t.equal(inString.statusCode, 200)
})
