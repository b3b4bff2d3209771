import t from 'tap'
import { AnthropicProvider } from '../../src/providers/anthropic-provider.js'
import type { ProviderConfig } from '../../src/providers/provider.js'
import { anthropicErrorReply, startFakeAnthropic } from '../support/fake-anthropic.js'
import { anthropicRequest, callJson, callStream, textOf, upstreamCall, upstreamErrorOf } from './helpers.js'

const fake = await startFakeAnthropic()
t.teardown(() => fake.close())

function provider(config: Partial<ProviderConfig> = {}): AnthropicProvider {
  const p = new AnthropicProvider({ id: 'anthropic', kind: 'anthropic', baseUrl: fake.baseUrl, apiKey: 'sk-ant-gateway', ...config })
  t.teardown(() => p.close())
  return p
}

t.beforeEach(() => {
  fake.requests.length = 0
  fake.setScript(() => ({}))
})

t.test('non-stream: POST /v1/messages with x-api-key and the default anthropic-version; usage with cache', async (t) => {
  fake.setScript(() => ({ text: 'Hi!', usage: { inputTokens: 7, outputTokens: 2, cacheReadTokens: 100, cacheWriteTokens: 20 } }))
  const result = await callJson(provider(), upstreamCall(anthropicRequest({ top_k: 5 })).call)
  const sent = fake.requests[0]
  t.equal(sent.path, '/v1/messages')
  t.equal(sent.headers['x-api-key'], 'sk-ant-gateway')
  t.equal(sent.headers['anthropic-version'], '2023-06-01')
  t.equal(sent.headers.authorization, undefined)
  t.same(sent.body, { model: 'upstream-model', max_tokens: 200, messages: [{ role: 'user', content: 'Hello there' }], top_k: 5 })
  t.same(result.response.choices[0].message.content, [{ type: 'text', text: 'Hi!' }])
  t.equal(result.response.choices[0].finishReason, 'stop')
  t.same(result.response.usage, { inputTokens: 127, outputTokens: 2, cachedReadTokens: 100, cacheWriteTokens: 20, estimated: false }, 'canonical input includes cache reads and writes')
  t.equal(result.raw?.protocol, 'anthropic')
  t.equal(JSON.parse(result.raw?.body ?? '{}').usage.service_tier, 'standard')
})

t.test('anthropic-version: the client header wins, else the configured one, never pinned over the client', async (t) => {
  const configured = provider({ headers: { 'Anthropic-Version': '2024-01-01' } })
  await callJson(configured, upstreamCall(anthropicRequest()).call)
  t.equal(fake.requests[0].headers['anthropic-version'], '2024-01-01', 'configured version')
  await callJson(configured, upstreamCall(anthropicRequest(), { passHeaders: { 'anthropic-version': '2026-10-21', 'anthropic-beta': 'prompt-caching-2024-07-31' } }).call)
  t.equal(fake.requests[1].headers['anthropic-version'], '2026-10-21', 'the client version')
  t.equal(fake.requests[1].headers['anthropic-beta'], 'prompt-caching-2024-07-31')
  await callJson(provider(), upstreamCall(anthropicRequest(), { apiKey: 'sk-ant-project' }).call)
  t.equal(fake.requests[2].headers['x-api-key'], 'sk-ant-project', 'the project key wins')
})

t.test('stream: named events decode to canonical events; thinking and block events keep their raw bytes; ping is skipped', async (t) => {
  fake.setScript(() => ({
    thinking: 'Let me think.',
    text: 'Hello world',
    toolUses: [{ id: 'toolu_1', name: 'lookup', input: { q: 'cat' } }],
    usage: { inputTokens: 9, outputTokens: 30, cacheReadTokens: 40 },
  }))
  const { result, chunks, events } = await callStream(provider(), upstreamCall(anthropicRequest({ stream: true })).call)
  t.equal(result.protocol, 'anthropic')
  t.equal(fake.requests[0].body.stream, true)
  t.match(events[0], { type: 'start', id: /^msg_fake/, model: 'upstream-model' })
  t.equal(textOf(events), 'Hello world')
  const tool = events.filter((e) => e.type === 'tool_call')
  t.match(tool[0], { toolIndex: 0, id: 'toolu_1', name: 'lookup', arguments: '' })
  t.same(JSON.parse(tool.map((e) => (e as { arguments: string }).arguments).join('')), { q: 'cat' })
  t.same(
    events.filter((e) => e.type === 'finish'),
    [{ type: 'finish', index: 0, reason: 'tool_calls' }],
  )
  t.same(
    events.filter((e) => e.type === 'usage'),
    [{ type: 'usage', usage: { inputTokens: 49, outputTokens: 30, cachedReadTokens: 40, cacheWriteTokens: 0, estimated: false } }],
  )
  const names = chunks.map((c) => /^event: (\w+)/.exec(c.raw ?? '')?.[1])
  t.notOk(names.includes('ping'), 'no ping chunk')
  t.notOk(names.includes('message_stop'), 'message_stop ends the iteration, the client encoder writes its own')
  t.ok(names.includes('content_block_stop'))
  t.ok(
    chunks.some((c) => c.raw?.includes('thinking_delta') && c.events.length === 0),
    'thinking deltas come through as raw-only chunks',
  )
})

t.test('overloaded (529) and rate limits map to UpstreamError with status, type and Retry-After', async (t) => {
  const p = provider()
  fake.setScript(() => anthropicErrorReply(529))
  let err = await upstreamErrorOf(() => p.call(upstreamCall(anthropicRequest()).call))
  t.equal(err.kind, 'http')
  t.equal(err.status, 529)
  t.equal(err.upstreamType, 'overloaded_error')
  t.equal(err.upstreamMessage, 'Overloaded')
  t.equal(err.retryAfter, 3)
  fake.setScript(() => anthropicErrorReply(429))
  err = await upstreamErrorOf(() => p.call(upstreamCall(anthropicRequest({ stream: true })).call))
  t.equal(err.status, 429)
  t.equal(err.upstreamType, 'rate_limit_error')
  t.equal(err.retryAfter, 12)
  fake.setScript(() => anthropicErrorReply(401))
  err = await upstreamErrorOf(() => p.call(upstreamCall(anthropicRequest()).call))
  t.equal(err.status, 401)
  t.equal(err.upstreamType, 'authentication_error')
  fake.setScript(() => anthropicErrorReply(400, { message: 'max_tokens: must be positive' }))
  err = await upstreamErrorOf(() => p.call(upstreamCall(anthropicRequest()).call))
  t.equal(err.status, 400)
  t.equal(err.upstreamMessage, 'max_tokens: must be positive')
})

t.test('an `event: error` mid-stream throws UpstreamError(stream) with the vendor type', async (t) => {
  fake.setScript(() => ({ pieces: ['a', 'b', 'c'], fault: { after: 4, kind: 'error' } }))
  const result = await provider().call(upstreamCall(anthropicRequest({ stream: true })).call)
  if (result.kind !== 'stream') throw new Error('stream expected')
  let text = ''
  const err = await upstreamErrorOf(async () => {
    for await (const chunk of result.chunks) text += textOf(chunk.events)
  })
  t.equal(text, 'a', 'the chunks before the error came through')
  t.equal(err.kind, 'stream')
  t.equal(err.upstreamType, 'overloaded_error')
  t.equal(err.upstreamMessage, 'Overloaded')
})

t.test('a stream cut before message_delta throws UpstreamError(stream)', async (t) => {
  fake.setScript(() => ({ pieces: ['a', 'b', 'c'], fault: { after: 5, kind: 'cut' } }))
  const err = await upstreamErrorOf(() => callStream(provider(), upstreamCall(anthropicRequest({ stream: true })).call))
  t.equal(err.kind, 'stream')
})

t.test('a client abort mid-stream closes the upstream connection', async (t) => {
  const own = await startFakeAnthropic()
  const p = new AnthropicProvider({ id: 'a', kind: 'anthropic', baseUrl: own.baseUrl, apiKey: 'k' })
  t.teardown(async () => {
    await p.close()
    await own.close()
  })
  own.setScript(() => ({ pieces: Array.from({ length: 40 }, (_, i) => `w${i} `), delayMs: 20 }))
  const { call, controller } = upstreamCall(anthropicRequest({ stream: true }))
  const result = await p.call(call)
  if (result.kind !== 'stream') throw new Error('stream expected')
  let seen = 0
  await upstreamErrorOf(async () => {
    for await (const chunk of result.chunks) {
      if (chunk.events.some((e) => e.type === 'text') && ++seen === 3) controller.abort()
    }
  })
  await own.waitFor(() => own.stats.openConnections === 0, 1000)
  t.equal(own.stats.streamsClosedEarly, 1)
  t.equal(own.stats.streamsCompleted, 0)
})

t.test('timeouts map to kind timeout', async (t) => {
  fake.setScript(() => ({ hangBeforeHeaders: true }))
  const err = await upstreamErrorOf(() => provider({ timeouts: { headersMs: 120 } }).call(upstreamCall(anthropicRequest()).call))
  t.equal(err.kind, 'timeout')
})
