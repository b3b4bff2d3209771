import t from 'tap'
import OpenAI from 'openai'
import { CORE_METRICS, defineErrorCatalog, definePlugin, PLUGIN_METRICS, TollgateError } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { openAIErrorReply, startFakeOpenAI } from '../support/fake-openai.ts'
import { eventually, failureStatus, familyNames, promBinary, promtoolCheckMetrics, sumOf, sampleValue } from './helpers.ts'

defineErrorCatalog({
  TOLLGATE_ERR_TESTLIMIT_EXCEEDED: { status: 429, openai: 'rate_limit_error', anthropic: 'rate_limit_error', description: 'A test rate limit.' },
})

/** Refuses requests saying "limit" with a 429 of its own, and takes a measurable moment in beforeUpstream. */
const limiter = definePlugin({
  id: 'limiter',
  register(host) {
    host.hooks.add('onAuthenticated', async (ctx) => {
      const first = ctx.request.messages[0]?.content
      const text = typeof first === 'string' ? first : JSON.stringify(first)
      if (text.includes('limit')) throw new TollgateError('TOLLGATE_ERR_TESTLIMIT_EXCEEDED', 'Too many requests for this test key', { retryAfter: 1 })
    })
    host.hooks.add('beforeUpstream', async () => {
      await new Promise((r) => setTimeout(r, 2))
    })
  },
})

t.test('requests, latency, tokens, exact cost, errors, rejections and hooks reach /metrics with bounded labels; promtool accepts the whole output', async (t) => {
  const upstream = await startFakeOpenAI({
    script: (req) => (JSON.stringify(req.body).includes('fail') ? openAIErrorReply(500) : { text: 'Hello there', usage: { promptTokens: 1000, completionTokens: 500 } }),
  })
  t.teardown(() => upstream.close())
  const gw = await createTestGateway({
    plugins: [limiter({})],
    config: {
      metrics: { defaultMetrics: true, maxModelLabels: 1 },
      providers: [{ id: 'vendor', kind: 'openai', baseUrl: upstream.baseUrl, apiKey: 'sk-provider-secret-value' }],
      models: [
        { name: 'gpt-test', provider: 'vendor', prices: { input: '1', output: '2' }, marketPrices: { input: '1.5', output: '3' } },
        { name: 'gpt-second', provider: 'vendor', prices: { input: '1', output: '2' } },
      ],
    },
  })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: gw.apiKey, maxRetries: 0 })

  await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })
  const stream = await client.chat.completions.create({ model: 'gpt-test', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] })
  for await (const _ of stream);
  t.equal(await failureStatus(client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'fail' }] })), 502)
  t.equal(await failureStatus(client.chat.completions.create({ model: 'gpt-99-unknown', messages: [{ role: 'user', content: 'hi' }] })), 404)
  t.equal(await failureStatus(client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'limit' }] })), 429)
  await client.chat.completions.create({ model: 'gpt-second', messages: [{ role: 'user', content: 'hi' }] })

  const scrape = async () => {
    const res = await fetch(`${url}/metrics`)
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    return res.text()
  }
  // The last request is recorded after its response: wait for it.
  const text = await eventually(async () => {
    const s = await scrape()
    return sumOf(s, CORE_METRICS.requests.name) >= 6 ? s : undefined
  })

  const R = CORE_METRICS.requests.name
  t.equal(sampleValue(text, R, { provider: 'vendor', model: 'gpt-test', route: '/v1/chat/completions', status: '200', outcome: 'success' }), 2, 'two successes (one streamed)')
  t.equal(sampleValue(text, R, { provider: 'vendor', model: 'gpt-test', status: '502', outcome: 'upstream_error' }), 1)
  t.equal(sampleValue(text, R, { provider: 'none', model: 'other', status: '404', outcome: 'rejected' }), 1, 'an unknown model folds into "other"')
  t.equal(sampleValue(text, R, { model: 'other', status: '200' }), 1, 'the second catalog model is beyond maxModelLabels: "other"')
  t.equal(sampleValue(text, R, { status: '429' }), 1)

  t.equal(sampleValue(text, CORE_METRICS.tokens.name, { model: 'gpt-test', type: 'input' }), 2000)
  t.equal(sampleValue(text, CORE_METRICS.tokens.name, { model: 'gpt-test', type: 'output' }), 1000)
  // 1000 input at $1/M + 500 output at $2/M = $0.002 = 2000 µ$ per request; market $0.003.
  t.equal(sampleValue(text, CORE_METRICS.cost.name, { provider: 'vendor', model: 'gpt-test' }), 4000)
  t.equal(sampleValue(text, CORE_METRICS.marketCost.name, { provider: 'vendor', model: 'gpt-test' }), 6000)

  t.equal(sampleValue(text, `${CORE_METRICS.requestDuration.name}_count`, { model: 'gpt-test', stream: 'true' }), 1)
  t.equal(sampleValue(text, `${CORE_METRICS.timeToFirstToken.name}_count`, { model: 'gpt-test' }), 1)
  t.equal(sampleValue(text, `${CORE_METRICS.upstreamDuration.name}_count`, { model: 'gpt-test', stream: 'false' }), 2, 'the failed call has an upstream latency too')
  t.equal(sampleValue(text, `${CORE_METRICS.overhead.name}_count`, { stream: 'false' }), 2, 'overhead only of answered requests')
  const overheadSum = sampleValue(text, `${CORE_METRICS.overhead.name}_sum`, { stream: 'false' }) ?? 0
  t.ok(overheadSum >= 0.004, `overhead includes the 2 ms beforeUpstream hook of each request (${overheadSum}s)`)

  t.equal(sampleValue(text, CORE_METRICS.upstreamErrors.name, { provider: 'vendor', kind: 'server_error' }), 1)
  t.equal(sampleValue(text, CORE_METRICS.rejections.name, { code: 'TOLLGATE_ERR_MODEL_NOT_FOUND' }), 1)
  t.equal(sampleValue(text, CORE_METRICS.rejections.name, { code: 'TOLLGATE_ERR_TESTLIMIT_EXCEEDED' }), 1)
  t.equal(sampleValue(text, CORE_METRICS.rateLimited.name, { code: 'TOLLGATE_ERR_TESTLIMIT_EXCEEDED' }), 1)
  t.equal(sampleValue(text, `${CORE_METRICS.hookDuration.name}_count`, { plugin: 'limiter', hook: 'beforeUpstream', outcome: 'ok' }), 4)
  t.equal(sampleValue(text, `${CORE_METRICS.hookDuration.name}_count`, { plugin: 'limiter', hook: 'onAuthenticated', outcome: 'failed' }), 1)
  t.equal(sampleValue(text, CORE_METRICS.httpResponses.name, { method: 'POST', route: '/v1/chat/completions', status_class: '2xx' }), 3, 'HTTP responses, streams included')
  t.equal(sampleValue(text, CORE_METRICS.inflightRequests.name), 0)
  t.equal(sampleValue(text, CORE_METRICS.inflightStreams.name), 0)
  t.equal(sampleValue(text, CORE_METRICS.usageQueue.name) !== undefined, true)
  await gw.usageWriter.flush()
  const afterFlush = await scrape()
  t.ok((sampleValue(afterFlush, CORE_METRICS.usageFlushedEvents.name, { outcome: 'ok' }) ?? 0) >= 6, 'flushed usage events are counted')
  t.ok((sampleValue(afterFlush, `${CORE_METRICS.usageFlushDuration.name}_count`, { outcome: 'ok' }) ?? 0) >= 1)

  for (const d of Object.values(PLUGIN_METRICS)) t.ok(familyNames(text).has(d.name), `${d.name} is declared even without its plugin`)
  t.ok(familyNames(text).has('process_cpu_seconds_total'), 'default metrics are on')
  t.notOk(familyNames(text).has('nodejs_active_handles_total'), 'the lint-failing default gauges are left out')
  t.notMatch(text, gw.apiKey.slice(0, 12), 'no API key material in labels')
  t.notMatch(text, gw.userId, 'no user ids in labels')
  t.notMatch(text, gw.projectId, 'no project ids in labels')
  t.notMatch(text, 'gpt-99-unknown', 'a model the client made up is never a label value')

  await t.test('promtool check metrics passes on the whole output', { skip: promBinary('promtool') ? false : 'promtool is not installed (apt-get install prometheus)' }, async (t) => {
    const lint = promtoolCheckMetrics(afterFlush)
    t.equal(lint.status, 0, `promtool check metrics: ${lint.output}`)
  })
})

t.test('the metrics endpoint can require a bearer token, or move to its own listener', async (t) => {
  const token = 'metrics-token-0123456789abcdef'
  const gw = await createTestGateway({ config: { metrics: { token } } })
  t.teardown(() => gw.close())
  const missing = await gw.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().error.code, 'TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS')
  t.equal(missing.headers['www-authenticate'], 'Bearer')
  const wrong = await gw.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().error.code, 'TOLLGATE_ERR_AUTH_INVALID_KEY')
  const right = await gw.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })
  t.equal(right.statusCode, 200)
  t.match(right.body, /# TYPE tollgate_proxy_requests_total counter/)

  const own = await createTestGateway({ config: { metrics: { port: 0, path: '/internal/metrics', token } } })
  t.teardown(() => own.close())
  const url = await own.listen({ port: 0 })
  t.equal((await fetch(`${url}/metrics`)).status, 404, 'not on the public listener')
  t.ok(own.metricsUrl, 'the metrics listener has a URL')
  t.not(new URL(own.metricsUrl!).port, new URL(url).port)
  t.equal((await fetch(own.metricsUrl!)).status, 401)
  const res = await fetch(own.metricsUrl!, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200)
  t.match(await res.text(), /tollgate_build_info\{version="[^"]+",node="v\d+/)
  t.equal((await fetch(new URL('/other', own.metricsUrl!))).status, 404)

  const off = await createTestGateway({ config: { metrics: { endpoint: false } } })
  t.teardown(() => off.close())
  t.equal((await off.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)
})

t.test('a bad metrics config is refused at startup, naming the field', async (t) => {
  await t.rejects(createTestGateway({ config: { metrics: { token: 'short' } } }), { code: 'TOLLGATE_ERR_CONFIG_INVALID', message: /metrics\.token/ })
  await t.rejects(createTestGateway({ config: { metrics: { maxModelLabels: 0 } } }), { code: 'TOLLGATE_ERR_CONFIG_INVALID', message: /metrics\.maxModelLabels/ })
})
