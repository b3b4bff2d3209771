import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { anthropicErrorReply, startFakeAnthropic } from '../support/fake-anthropic.ts'
import { openAIErrorReply, startFakeOpenAI } from '../support/fake-openai.ts'
import { chat, usageRecorder } from './helpers.ts'

/**
 * Fault injection against local fake upstreams: hung upstreams, 5xx, 429 with Retry-After,
 * failures before and after the first streamed byte. Deployment a (OpenAI wire) is preferred,
 * b (OpenAI wire) and c (Anthropic wire) are the fallbacks.
 */

const a = await startFakeOpenAI()
const b = await startFakeOpenAI()
const c = await startFakeAnthropic()
const gw = await createTestGateway({
  config: {
    providers: [
      { id: 'a', kind: 'openai', baseUrl: a.baseUrl, apiKey: 'sk-a' },
      { id: 'b', kind: 'openai', baseUrl: b.baseUrl, apiKey: 'sk-b' },
      { id: 'c', kind: 'anthropic', baseUrl: c.baseUrl, apiKey: 'sk-c' },
    ],
    models: [
      { name: 'smart', provider: 'a', upstreamModel: 'gpt-a', prices: { input: '1', output: '2' } },
      { name: 'solo', provider: 'a', upstreamModel: 'gpt-solo', prices: { input: '1', output: '2' } },
      { name: 'claude', provider: 'c', upstreamModel: 'claude-c', prices: { input: '3', output: '15' } },
    ],
    routing: {
      policy: {
        providerOrder: ['a', 'b', 'c'],
        loadBalancing: 'ordered',
        timeouts: { attemptMs: 1000, totalMs: 2500 },
        retry: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 200 },
        circuitBreaker: { failureThreshold: 50, cooldownMs: 1000 },
      },
      deployments: [
        { id: 'smart-a', model: 'smart', provider: 'a', upstreamModel: 'gpt-a' },
        { id: 'smart-b', model: 'smart', provider: 'b', upstreamModel: 'gpt-b' },
        { id: 'smart-c', model: 'smart', provider: 'c', upstreamModel: 'claude-c' },
      ],
    },
  },
})
const url = await gw.listen({ port: 0 })
t.teardown(async () => {
  await gw.close()
  await Promise.all([a.close(), b.close(), c.close()])
})
const usage = usageRecorder(gw)
const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
const anthropic = new Anthropic({ apiKey: gw.apiKey, baseURL: url, maxRetries: 0 })

function reset() {
  gw.routing.health.reset()
  a.setScript(() => ({}))
  b.setScript(() => ({}))
  c.setScript(() => ({}))
  a.requests.length = 0
  b.requests.length = 0
  c.requests.length = 0
}

t.test('a hung upstream fails over within its attempt timeout plus one second', async (t) => {
  reset()
  a.setScript(() => ({ hangBeforeHeaders: true }))
  const started = performance.now()
  const { data, response } = await openai.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'are you there' }] }).withResponse()
  const elapsed = performance.now() - started
  t.equal(data.choices[0].message.content, 'echo: are you there', 'the answer comes from the fallback')
  t.ok(elapsed >= 950, `waited for the attempt timeout (${elapsed.toFixed(0)} ms)`)
  t.ok(elapsed < 1000 + 1000, `failed over within timeout + 1 s (${elapsed.toFixed(0)} ms)`)
  t.equal(a.requests.length, 1)
  t.equal(b.requests.length, 1)
  t.equal(b.requests[0].body.model, 'gpt-b', "the fallback deployment's upstream model is sent")
  t.equal(b.requests[0].headers.authorization, 'Bearer sk-b', "the fallback provider's key is sent")
  const event = await usage.for(response.headers.get('x-request-id')!)
  t.equal(event.provider, 'b', 'usage names the provider that answered')
  t.equal(event.status, 200)
  t.match(event.failedAttempts, [{ provider: 'a', deployment: 'smart-a', code: 'TOLLGATE_ERR_UPSTREAM_TIMEOUT' }])
  t.equal(event.failedAttempts?.length, 1)
})

t.test('a hung stream (headers, then nothing) also fails over before the first byte', async (t) => {
  reset()
  a.setScript(() => ({ fault: { after: 0, kind: 'hang' } }))
  const started = performance.now()
  const stream = await openai.chat.completions.create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'stream please' }] })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  const elapsed = performance.now() - started
  t.equal(text, 'echo: stream please')
  t.ok(elapsed < 2000, `failed over within timeout + 1 s (${elapsed.toFixed(0)} ms)`)
  t.equal(b.requests.length, 1)
})

t.test('retries never make the client wait beyond the route budget', async (t) => {
  reset()
  for (const f of [a, b]) f.setScript(() => ({ hangBeforeHeaders: true }))
  c.setScript(() => ({ hangBeforeHeaders: true }))
  const res = await chat(url, gw.apiKey, { model: 'smart', messages: [{ role: 'user', content: 'nobody home' }] })
  t.equal(res.status, 504)
  t.equal(res.json.error.code, 'TOLLGATE_ERR_UPSTREAM_TIMEOUT')
  t.ok(res.ms < 2500 + 500, `the whole request stayed within the 2.5 s budget (${res.ms.toFixed(0)} ms)`)
  t.ok(res.ms > 2000, `it used the budget for its attempts (${res.ms.toFixed(0)} ms)`)
  t.equal(a.requests.length + b.requests.length + c.requests.length, 3, 'maxAttempts bounds the attempts')
  const event = await usage.for(res.requestId)
  t.equal(event.failedAttempts?.length, 2, 'the attempts before the last are in the usage event')
  t.equal(event.errorCode, 'TOLLGATE_ERR_UPSTREAM_TIMEOUT', 'the last one is the request’s error')
  t.equal(event.cost, 0n, 'nothing is billed when nothing answered')
})

t.test('5xx falls back to the next provider (across wire protocols); only the answer is billed', async (t) => {
  reset()
  a.setScript(() => openAIErrorReply(500))
  b.setScript(() => openAIErrorReply(503))
  c.setScript(() => ({ usage: { inputTokens: 7, outputTokens: 3 } }))
  const { data, response } = await openai.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'third time lucky' }] }).withResponse()
  t.equal(data.choices[0].message.content, 'echo: third time lucky')
  t.equal(c.requests[0].body.model, 'claude-c', 'translated to the Anthropic wire for the fallback')
  const event = await usage.for(response.headers.get('x-request-id')!)
  t.equal(event.provider, 'c')
  t.equal(event.upstreamModel, 'claude-c')
  t.match(event.failedAttempts, [
    { provider: 'a', status: 500, code: 'TOLLGATE_ERR_UPSTREAM_ERROR' },
    { provider: 'b', status: 503, code: 'TOLLGATE_ERR_UPSTREAM_ERROR' },
  ])
  // 7 input × 1 µ$ + 3 output × 2 µ$ per token at the price of "smart".
  t.equal(event.cost, 7n * 1_000_000n + 3n * 2_000_000n, 'billed once, for the attempt that answered')
})

t.test('429 falls back at once; a 4xx about the request does not fall back', async (t) => {
  reset()
  a.setScript(() => openAIErrorReply(429, { retryAfter: '20' }))
  const started = performance.now()
  const ok = await chat(url, gw.apiKey, { model: 'smart', messages: [{ role: 'user', content: 'busy?' }] })
  t.equal(ok.status, 200)
  t.ok(ok.ms < 800, 'no wait: another deployment was free')
  t.equal(b.requests.length, 1)
  // a asked for 20 s: the next request tries it last, so b serves it.
  const second = await chat(url, gw.apiKey, { model: 'smart', messages: [{ role: 'user', content: 'again' }] })
  t.equal(second.status, 200)
  t.equal(a.requests.length, 1, 'the deployment that asked to wait is left alone')
  t.equal(b.requests.length, 2)
  t.ok(performance.now() - started < 2000)

  a.requests.length = b.requests.length = c.requests.length = 0
  // a still waits out its 20 s: the 400 below comes from b, the first usable deployment.
  b.setScript(() => openAIErrorReply(400, { message: 'messages too long' }))
  const bad = await chat(url, gw.apiKey, { model: 'smart', messages: [{ role: 'user', content: 'bad' }] })
  t.equal(bad.status, 400)
  t.equal(bad.json.error.code, 'TOLLGATE_ERR_UPSTREAM_BAD_REQUEST')
  t.equal(c.requests.length, 0, 'a request the provider rejects is not sent elsewhere')
})

t.test('Retry-After is honoured when it fits the budget, and passed on when it does not', async (t) => {
  reset()
  let n = 0
  a.setScript(() => (n++ === 0 ? openAIErrorReply(429, { retryAfter: '1' }) : {}))
  const res = await chat(url, gw.apiKey, { model: 'solo', messages: [{ role: 'user', content: 'patience' }] })
  t.equal(res.status, 200, res.text)
  t.ok(res.ms >= 990, `waited the 1 s the provider asked for (${res.ms.toFixed(0)} ms)`)
  t.ok(res.ms < 2500, 'and no longer than the budget')
  t.equal(a.requests.length, 2)

  reset()
  a.setScript(() => openAIErrorReply(429, { retryAfter: '30' }))
  const busy = await chat(url, gw.apiKey, { model: 'solo', messages: [{ role: 'user', content: 'too busy' }] })
  t.equal(busy.status, 429)
  t.equal(busy.json.error.type, 'rate_limit_error')
  t.equal(busy.headers.get('retry-after'), '30', "the provider's Retry-After reaches the client")
  t.ok(busy.ms < 500, `no pointless wait (${busy.ms.toFixed(0)} ms)`)
  t.equal(a.requests.length, 1)
  // A new request still tries it once (no other deployment), and does not wait 30 s either.
  const again = await anthropic.messages.create({ model: 'solo', max_tokens: 10, messages: [{ role: 'user', content: 'still?' }] }).catch((e) => e)
  t.equal(again.status, 429, 'anthropic clients get the 429 in their format')
  t.equal(again.error?.error?.type, 'rate_limit_error')
  t.equal(again.headers?.get?.('retry-after'), '30')
  t.equal(a.requests.length, 2)
})

t.test('an error after the first streamed byte ends the stream with an error event, with no switch', async (t) => {
  reset()
  a.setScript(() => ({ text: 'one two three four five', fault: { after: 3, kind: 'error' } }))
  const stream = await openai.chat.completions.create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'go' }] })
  let text = ''
  const err = await (async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  })().catch((e) => e)
  t.ok(err instanceof OpenAI.APIError, 'the OpenAI SDK raises the error event')
  t.match(String(err.message), /failed during the response/)
  t.equal(text, 'one two ', 'the client got the bytes before the error')
  t.equal(b.requests.length + c.requests.length, 0, 'no silent switch to another provider')

  reset()
  a.setScript(() => ({ text: 'alpha beta gamma', delayMs: 20, fault: { after: 3, kind: 'cut' } }))
  const events: string[] = []
  const aerr = await (async () => {
    const s = anthropic.messages.stream({ model: 'smart', max_tokens: 50, messages: [{ role: 'user', content: 'go' }] })
    for await (const ev of s) events.push(ev.type)
  })().catch((e) => e)
  t.ok(aerr instanceof Anthropic.APIError, `the Anthropic SDK raises the error event (${aerr})`)
  t.ok(events.includes('content_block_delta'), 'bytes reached the client first')
  t.equal(b.requests.length + c.requests.length, 0, 'no silent switch')
})

t.test('a stream that breaks before its first byte falls back', async (t) => {
  reset()
  a.setScript(() => ({ fault: { after: 0, kind: 'cut' } }))
  const stream = await openai.chat.completions.create({ model: 'smart', stream: true, messages: [{ role: 'user', content: 'fresh start' }] })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, 'echo: fresh start')
  t.equal(a.requests.length, 1)
  t.equal(b.requests.length, 1)
})

t.test('anthropic wire upstream: 529 overloaded falls back to the OpenAI wire', async (t) => {
  reset()
  c.setScript(() => anthropicErrorReply(529))
  const res = await chat(url, gw.apiKey, { model: 'claude', messages: [{ role: 'user', content: 'x' }] })
  // "claude" has only its implicit deployment on c: the 529 is passed on in the client's format.
  t.equal(res.status, 529)
  t.equal(res.json.error.code, 'TOLLGATE_ERR_UPSTREAM_OVERLOADED')
  t.equal(res.headers.get('retry-after'), '3')
})
