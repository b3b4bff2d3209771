import { connect } from 'node:net'
import t from 'tap'
import OpenAI from 'openai'
import pino from 'pino'
import { definePlugin, type UsageEvent } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { openAIChunk, startTinyUpstream } from '../support/tiny-upstream.ts'

t.test('/health and /ready answer; shutdown drains an in-flight stream, refuses new requests and flushes usage', async (t) => {
  const upstream = await startTinyUpstream((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let i = 0
    const timer = setInterval(() => {
      if (++i <= 10) return void res.write(openAIChunk(`part${i} `))
      clearInterval(timer)
      res.write(openAIChunk(null, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }))
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', choices: [], usage: { prompt_tokens: 7, completion_tokens: 10, total_tokens: 17 } })}\n\n`)
      res.end('data: [DONE]\n\n')
    }, 40)
  })
  t.teardown(() => upstream.close())
  const gw = await createTestGateway({
    config: {
      providers: [{ id: 'slow', kind: 'openai', baseUrl: upstream.url, apiKey: 'sk-test' }],
      models: [{ name: 'slow-model', provider: 'slow', prices: { input: '1', output: '1' } }],
    },
  })
  let closed = false
  t.teardown(() => (closed ? undefined : gw.close()))
  const recorded: UsageEvent[] = []
  gw.events.on('usage.recorded', ({ events }) => void recorded.push(...events))
  const url = await gw.listen({ port: 0 })

  t.same((await (await fetch(`${url}/health`)).json()), { status: 'ok' })
  const ready = await fetch(`${url}/ready`)
  t.equal(ready.status, 200)

  const client = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
  const stream = await client.chat.completions.create({ model: 'slow-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] })
  const iterator = stream[Symbol.asyncIterator]()
  const first = await iterator.next()
  t.equal(first.done, false, 'the stream started before shutdown')

  const closing = gw.close().then(() => (closed = true))
  // A new request on a new connection is refused while draining.
  await new Promise((r) => setTimeout(r, 50))
  const refused = await new Promise<string>((resolve) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1')
    let data = ''
    socket.on('data', (d) => (data += d))
    socket.on('error', () => resolve('connection refused'))
    socket.on('close', () => resolve(data || 'closed'))
    socket.write('GET /ready HTTP/1.1\r\nhost: x\r\n\r\n')
  })
  t.notMatch(refused, /^HTTP\/1.1 200/, 'no new request is served during the drain')

  let text = ''
  let usage: { prompt_tokens: number } | undefined
  for (let r = first; !r.done; r = await iterator.next()) {
    text += r.value.choices[0]?.delta?.content ?? ''
    if (r.value.usage) usage = r.value.usage
  }
  t.match(text, /part1 part2 .*part10/, 'the in-flight stream finished completely')
  t.equal(usage?.prompt_tokens, 7)
  await closing
  t.equal(closed, true)
  t.equal(recorded.length, 1, 'the usage event was flushed before the database closed')
  t.equal(recorded[0].inputTokens, 7)
  t.equal(recorded[0].outputTokens, 10)
  t.equal(recorded[0].streaming, true)
})

t.test('shutdown is bounded: a hanging onClose hook is given up and a query that never returns is ended with the pool', async (t) => {
  const lines: Record<string, unknown>[] = []
  const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) })
  let afterHookRan = false
  const stuck = definePlugin({
    id: 'stuck-on-close',
    register(host) {
      host.hooks.add('onClose', () => new Promise<void>(() => undefined))
    },
  })
  const later = definePlugin({
    id: 'closes-fine',
    register(host) {
      // Listed before the stuck plugin, so (closed in reverse order) it runs after it.
      host.hooks.add('onClose', async () => {
        afterHookRan = true
      })
    },
  })
  const gw = await createTestGateway({ plugins: [later(), stuck()], config: { logger, server: { closeStepTimeoutMs: 300 } } })
  let closed = false
  t.teardown(() => (closed ? undefined : gw.close()))
  const em = gw.db.orm.em.fork()
  // A query that would hold its connection (and the database pool's close) for a minute.
  const held = em.execute(gw.db.driver === 'postgresql' ? 'select pg_sleep(60)' : 'select 1', [], 'all').then(
    () => 'finished',
    () => 'ended',
  )
  await new Promise((r) => setTimeout(r, 100))
  const started = Date.now()
  await gw.close()
  closed = true
  const took = Date.now() - started
  t.ok(afterHookRan, 'the hook after the stuck one ran')
  t.ok(lines.some((l) => l.level === 50 && l.step === 'the onClose hook of plugin stuck-on-close'), 'the abandoned hook is named in an error')
  if (gw.db.driver === 'postgresql') {
    t.equal(await held, 'ended', 'the stuck query was ended by the pool close')
    t.ok(lines.some((l) => l.level === 50 && /connections still in use at close/.test(String(l.msg))), 'the ended connections are logged')
  }
  t.ok(took < 30_000, `closed without waiting for the hook or the query (${took} ms)`)
})
