import t, { type Test } from 'tap'
import { OpenAIProvider } from '../../src/providers/openai-provider.js'
import type { ProviderConfig } from '../../src/providers/provider.js'
import { openAIErrorReply, startFakeOpenAI } from '../support/fake-openai.js'
import { callJson, callStream, openAIRequest, textOf, upstreamCall, upstreamErrorOf } from './helpers.js'

const fake = await startFakeOpenAI()
t.teardown(() => fake.close())

function provider(config: Partial<ProviderConfig> = {}): OpenAIProvider {
  const p = new OpenAIProvider({ id: 'openai', kind: 'openai', baseUrl: fake.baseUrl, apiKey: 'sk-gateway', ...config })
  t.teardown(() => p.close())
  return p
}

t.beforeEach(() => {
  fake.requests.length = 0
  fake.setScript(() => ({}))
})

t.test('non-stream: sends the Chat Completions body and decodes text and usage with cached tokens', async (t) => {
  fake.setScript(() => ({ text: 'Hi there!', usage: { promptTokens: 40, completionTokens: 3, cachedTokens: 32 } }))
  const { call } = upstreamCall(openAIRequest({ temperature: 0.3, seed: 7 }))
  const result = await callJson(provider(), call)
  const sent = fake.requests[0]
  t.equal(sent.path, '/v1/chat/completions')
  t.equal(sent.headers.authorization, 'Bearer sk-gateway')
  t.match(sent.headers['content-type'], /application\/json/)
  t.same(sent.body, { model: 'upstream-model', messages: [{ role: 'user', content: 'Hello there' }], seed: 7, temperature: 0.3 })
  t.equal(result.status, 200)
  t.same(result.response.choices[0].message.content, [{ type: 'text', text: 'Hi there!' }])
  t.equal(result.response.choices[0].finishReason, 'stop')
  t.equal(result.response.model, 'upstream-model')
  t.same(result.response.usage, { inputTokens: 40, outputTokens: 3, cachedReadTokens: 32, cacheWriteTokens: 0, estimated: false })
  t.equal(result.raw?.protocol, 'openai')
  t.equal(JSON.parse(result.raw?.body ?? '{}').system_fingerprint, 'fp_fake123', 'raw is the upstream body')
})

t.test('uses the project key over the provider key, and passes client headers', async (t) => {
  const { call } = upstreamCall(openAIRequest(), { apiKey: 'sk-project', passHeaders: { 'OpenAI-Organization': 'org-1' } })
  await callJson(provider({ headers: { 'x-extra': 'yes' } }), call)
  t.equal(fake.requests[0].headers.authorization, 'Bearer sk-project')
  t.equal(fake.requests[0].headers['openai-organization'], 'org-1')
  t.equal(fake.requests[0].headers['x-extra'], 'yes')
})

t.test('non-stream tool calls decode to tool_call parts with the raw arguments', async (t) => {
  fake.setScript(() => ({ toolCalls: [{ id: 'call_a', name: 'lookup', arguments: '{"q": "cat"}' }] }))
  const request = openAIRequest({ tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }], tool_choice: 'required' })
  const result = await callJson(provider(), upstreamCall(request).call)
  t.same(fake.requests[0].body.tools, [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }])
  t.equal(fake.requests[0].body.tool_choice, 'required')
  t.same(result.response.choices[0].message.content, [{ type: 'tool_call', id: 'call_a', name: 'lookup', arguments: '{"q": "cat"}' }])
  t.equal(result.response.choices[0].finishReason, 'tool_calls')
})

t.test('stream: always asks for usage, decodes events, keeps each raw SSE message', async (t) => {
  fake.setScript(() => ({ text: 'One two three', usage: { promptTokens: 12, completionTokens: 3, cachedTokens: 4 } }))
  const { call } = upstreamCall(openAIRequest({ stream: true }))
  const { result, chunks, events } = await callStream(provider(), call)
  t.same(fake.requests[0].body.stream_options, { include_usage: true }, 'include_usage sent although the client did not ask')
  t.equal(fake.requests[0].body.stream, true)
  t.equal(result.protocol, 'openai')
  t.equal(textOf(events), 'One two three')
  t.same(events[0], { type: 'start', id: events[0].type === 'start' ? events[0].id : '', model: 'upstream-model', created: events[0].type === 'start' ? events[0].created : 0 })
  t.same(
    events.filter((e) => e.type === 'finish'),
    [{ type: 'finish', index: 0, reason: 'stop' }],
  )
  t.same(
    events.filter((e) => e.type === 'usage'),
    [{ type: 'usage', usage: { inputTokens: 12, outputTokens: 3, cachedReadTokens: 4, cacheWriteTokens: 0, estimated: false } }],
  )
  for (const chunk of chunks) t.match(chunk.raw, /^data: \{"id":"chatcmpl-fake\d+","object":"chat\.completion\.chunk"/)
  t.equal(chunks.length, 6, 'role, 3 words, finish, usage; [DONE] is not a chunk')
})

t.test('stream: tool-call deltas keep their index, id and name', async (t) => {
  fake.setScript(() => ({
    toolCalls: [
      { id: 'call_1', name: 'a', arguments: '{"x":1}' },
      { id: 'call_2', name: 'b', arguments: '{"y":2}' },
    ],
  }))
  const { events } = await callStream(provider(), upstreamCall(openAIRequest({ stream: true })).call)
  const calls = events.filter((e) => e.type === 'tool_call')
  t.same(calls[0], { type: 'tool_call', index: 0, toolIndex: 0, id: 'call_1', name: 'a', arguments: '' })
  const args = (i: number) =>
    calls
      .filter((c) => c.type === 'tool_call' && c.toolIndex === i)
      .map((c) => (c as { arguments: string }).arguments)
      .join('')
  t.equal(args(0), '{"x":1}')
  t.equal(args(1), '{"y":2}')
  t.same(
    events.filter((e) => e.type === 'finish'),
    [{ type: 'finish', index: 0, reason: 'tool_calls' }],
  )
})

t.test('stream: chunks are delivered as they arrive, not after the whole body', async (t) => {
  fake.setScript(() => ({ pieces: ['a', 'b', 'c', 'd', 'e'], delayMs: 60 }))
  const result = await provider().call(upstreamCall(openAIRequest({ stream: true })).call)
  if (result.kind !== 'stream') throw new Error('stream expected')
  const started = performance.now()
  let firstText: number | undefined
  let openWhenFirst = -1
  for await (const chunk of result.chunks) {
    if (firstText === undefined && chunk.events.some((e) => e.type === 'text')) {
      firstText = performance.now() - started
      openWhenFirst = fake.stats.openStreams
    }
  }
  const total = performance.now() - started
  t.equal(openWhenFirst, 1, 'the upstream stream was still open when the first text arrived')
  t.ok(firstText !== undefined && firstText < total - 150, `first text after ${firstText?.toFixed(0)} ms of ${total.toFixed(0)} ms`)
})

t.test('stream: CRLF framing and messages split across writes decode the same', async (t) => {
  fake.setScript(() => ({ text: 'Split me ünïcödé 🎉', crlf: true, splitAt: 17 }))
  const { events, chunks } = await callStream(provider(), upstreamCall(openAIRequest({ stream: true })).call)
  t.equal(textOf(events), 'Split me ünïcödé 🎉')
  t.ok(chunks.every((c) => c.raw?.endsWith('\r\n\r\n')), 'raw keeps the upstream framing')
})

t.test('stream without [DONE] but with a finish reason completes', async (t) => {
  fake.setScript(() => ({ text: 'ok', omitDone: true }))
  const { events } = await callStream(provider(), upstreamCall(openAIRequest({ stream: true })).call)
  t.equal(textOf(events), 'ok')
})

t.test('non-2xx answers become UpstreamError with status, Retry-After and the vendor message', async (t) => {
  const p = provider()
  fake.setScript(() => openAIErrorReply(429))
  let err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.kind, 'http')
  t.equal(err.status, 429)
  t.equal(err.retryAfter, 7)
  t.equal(err.upstreamMessage, 'Rate limit reached for requests')
  t.equal(err.upstreamType, 'requests')

  fake.setScript(() => openAIErrorReply(401))
  err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest({ stream: true })).call))
  t.equal(err.status, 401)
  t.match(err.upstreamMessage, /Incorrect API key/)
  t.equal(err.retryAfter, undefined)

  fake.setScript(() => openAIErrorReply(400, { message: "Invalid value for 'temperature'" }))
  err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.status, 400)
  t.equal(err.upstreamType, 'invalid_request_error')

  fake.setScript(() => openAIErrorReply(500))
  err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.status, 500)
  t.equal(err.upstreamType, 'server_error')

  const date = new Date(Date.now() + 30_000).toUTCString()
  fake.setScript(() => openAIErrorReply(503, { retryAfter: date }))
  err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.status, 503)
  t.ok(err.retryAfter !== undefined && err.retryAfter >= 28 && err.retryAfter <= 31, `Retry-After as an HTTP date: ${err.retryAfter}`)

  fake.setScript(() => ({ ...openAIErrorReply(429), headers: { 'retry-after-ms': '1500' } }))
  err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.retryAfter, 2, 'retry-after-ms rounds up to seconds')

  fake.setScript(() => ({ status: 502, rawBody: '<html>Bad gateway</html>' }))
  err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.status, 502)
  t.equal(err.upstreamMessage, '<html>Bad gateway</html>')
})

t.test('an error chunk mid-stream throws UpstreamError(stream) after the chunks before it', async (t) => {
  fake.setScript(() => ({ pieces: ['a', 'b', 'c'], fault: { after: 2, kind: 'error' }, streamError: { message: 'Model overloaded', type: 'server_error' } }))
  const result = await provider().call(upstreamCall(openAIRequest({ stream: true })).call)
  if (result.kind !== 'stream') throw new Error('stream expected')
  let text = ''
  const err = await upstreamErrorOf(async () => {
    for await (const chunk of result.chunks) text += textOf(chunk.events)
  })
  t.equal(text, 'a')
  t.equal(err.kind, 'stream')
  t.equal(err.upstreamMessage, 'Model overloaded')
  t.equal(err.upstreamType, 'server_error')
})

t.test('a stream cut before it finished throws UpstreamError(stream)', async (t) => {
  fake.setScript(() => ({ pieces: ['a', 'b', 'c'], fault: { after: 2, kind: 'cut' } }))
  const err = await upstreamErrorOf(() => callStream(provider(), upstreamCall(openAIRequest({ stream: true })).call))
  t.equal(err.kind, 'stream')
})

t.test('timeouts: no headers within headersMs, then a body idle past bodyIdleMs', async (t) => {
  fake.setScript(() => ({ hangBeforeHeaders: true }))
  const p = provider({ timeouts: { headersMs: 150, bodyIdleMs: 150 } })
  let err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.kind, 'timeout')
  fake.setScript(() => ({ pieces: ['a', 'b'], fault: { after: 2, kind: 'hang' } }))
  err = await upstreamErrorOf(() => callStream(p, upstreamCall(openAIRequest({ stream: true })).call))
  t.equal(err.kind, 'timeout')
})

t.test('an unreachable upstream is a connect error', async (t) => {
  const closed = await startFakeOpenAI()
  const url = closed.baseUrl
  await closed.close()
  const p = new OpenAIProvider({ id: 'x', kind: 'openai', baseUrl: url })
  t.teardown(() => p.close())
  const err = await upstreamErrorOf(() => p.call(upstreamCall(openAIRequest()).call))
  t.equal(err.kind, 'connect')
})

/** A fake and a provider of their own, so connection counts are not shared with other tests. */
async function isolated(t: Test) {
  const own = await startFakeOpenAI()
  const p = new OpenAIProvider({ id: 'openai', kind: 'openai', baseUrl: own.baseUrl, apiKey: 'k' })
  t.teardown(async () => {
    await p.close()
    await own.close()
  })
  return { own, p }
}

t.test('a client abort mid-stream closes the upstream connection', async (t) => {
  const { own, p } = await isolated(t)
  own.setScript(() => ({ pieces: Array.from({ length: 50 }, (_, i) => `w${i} `), delayMs: 20 }))
  const { call, controller } = upstreamCall(openAIRequest({ stream: true }))
  const result = await p.call(call)
  if (result.kind !== 'stream') throw new Error('stream expected')
  let seen = 0
  const err = await upstreamErrorOf(async () => {
    for await (const chunk of result.chunks) {
      if (chunk.events.some((e) => e.type === 'text') && ++seen === 2) controller.abort()
    }
  })
  t.equal(err.kind, 'stream')
  t.equal(seen, 2, 'no chunk after the abort')
  await own.waitFor(() => own.stats.openConnections === 0, 1000)
  t.equal(own.stats.streamsClosedEarly, 1, 'the upstream saw its stream closed early')
  t.equal(own.stats.streamsCompleted, 0)
})

t.test('an abort before the upstream answered cancels the request and closes the socket', async (t) => {
  const { own, p } = await isolated(t)
  own.setScript(() => ({ hangBeforeHeaders: true }))
  const { call, controller } = upstreamCall(openAIRequest())
  const pending = p.call(call)
  await own.waitFor(() => own.requests.length === 1)
  t.equal(own.stats.openConnections, 1)
  controller.abort()
  const err = await upstreamErrorOf(() => pending)
  t.equal(err.kind, 'connect')
  await own.waitFor(() => own.stats.openConnections === 0, 1000)
  t.pass('the upstream socket closed')
})

t.test('cancel() closes the upstream body', async (t) => {
  const { own, p } = await isolated(t)
  own.setScript(() => ({ pieces: Array.from({ length: 50 }, (_, i) => `w${i} `), delayMs: 20 }))
  const result = await p.call(upstreamCall(openAIRequest({ stream: true })).call)
  if (result.kind !== 'stream') throw new Error('stream expected')
  const iterator = result.chunks[Symbol.asyncIterator]()
  await iterator.next()
  result.cancel()
  await own.waitFor(() => own.stats.openConnections === 0, 1000)
  t.equal(own.stats.streamsClosedEarly, 1)
})

t.test('keep-alive: sequential calls reuse one connection', async (t) => {
  const { own, p } = await isolated(t)
  // undici returns a connection to the pool a tick after the body ended
  const tick = () => new Promise((resolve) => setImmediate(resolve))
  for (let i = 0; i < 3; i++) {
    await callJson(p, upstreamCall(openAIRequest()).call)
    await tick()
  }
  await callStream(p, upstreamCall(openAIRequest({ stream: true })).call)
  await tick()
  await callJson(p, upstreamCall(openAIRequest()).call)
  t.equal(own.requests.length, 5)
  t.equal(own.stats.connectionsOpened, 1)
})
