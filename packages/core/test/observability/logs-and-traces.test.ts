import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import t from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import pino from 'pino'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { definePlugin } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { startFakeOpenAI } from '../support/fake-openai.ts'
import { eventually, failureStatus } from './helpers.ts'

// The API copy core itself resolves: a global provider registered through another copy of a lower
// minor version is invisible to it (the API's own compatibility rule).
const otel = createRequire(createRequire(import.meta.url).resolve('@tollgate/core'))('@opentelemetry/api') as typeof import('@opentelemetry/api')

/** A pino logger whose lines land in an array. */
function capturingLogger() {
  const lines: Record<string, any>[] = []
  let raw = ''
  const sink = new Writable({
    write(chunk, _enc, done) {
      raw += chunk.toString()
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, sink), lines, raw: () => raw }
}

const slowHook = definePlugin({
  id: 'observed',
  register(host) {
    host.hooks.add('beforeUpstream', async () => {
      await new Promise((r) => setTimeout(r, 10))
    })
    host.hooks.add('onComplete', async () => undefined)
  },
})

t.test('one structured access-log line per request, credentials redacted', async (t) => {
  const upstream = await startFakeOpenAI({ script: () => ({ text: 'Hi!', usage: { promptTokens: 1000, completionTokens: 500 } }) })
  t.teardown(() => upstream.close())
  const providerKey = 'sk-provider-key-that-must-never-be-logged'
  const { logger, lines, raw } = capturingLogger()
  const gw = await createTestGateway({
    config: {
      logger,
      accessLog: { headers: true },
      providers: [{ id: 'vendor', kind: 'openai', baseUrl: upstream.baseUrl, apiKey: providerKey }],
      models: [
        { name: 'gpt-test', provider: 'vendor', prices: { input: '1', output: '2' }, marketPrices: { input: '1.5', output: '3' } },
        { name: 'mock-echo', provider: 'mock' },
      ],
    },
  })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: gw.apiKey, maxRetries: 0 })
  const { response, data } = await openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.equal(data.choices[0].message.content, 'Hi!')
  const stream = await openai.chat.completions.create({ model: 'gpt-test', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] })
  for await (const _ of stream);
  // Anthropic's SDK sends the key as Authorization; send it as x-api-key too, the other header clients use.
  const anthropic = new Anthropic({ baseURL: url, apiKey: gw.apiKey, maxRetries: 0, defaultHeaders: { 'x-api-key': gw.apiKey } })
  await anthropic.messages.create({ model: 'mock-echo', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] })
  const wrong = await openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }, { headers: { authorization: 'Bearer tg-wrong-key-0000000000000000000000000000000' } }).catch((err: { status?: number }) => err)
  t.equal((wrong as { status?: number }).status, 401)

  const access = await eventually(() => {
    const found = lines.filter((l) => l.log === 'access')
    return found.length >= 4 ? found : undefined
  })
  t.equal(access.length, 4, 'exactly one line per request')
  const first = access.find((l) => l.reqId === response.headers.get('x-request-id'))
  t.ok(first, 'the line carries the request id the client got')
  if (!first) return
  t.equal(first.msg, 'request')
  t.equal(first.level, 30)
  t.equal(first.org, gw.organizationId)
  t.equal(first.project, gw.projectId)
  t.ok(typeof first.keyPrefix === 'string' && gw.apiKey.startsWith(first.keyPrefix), 'the key prefix, which the key starts with')
  t.ok(first.keyPrefix.length < gw.apiKey.length / 2, 'only a prefix')
  t.match(first, { provider: 'vendor', model: 'gpt-test', status: 200, outcome: 'success', stream: false, route: 'openai' })
  t.same(first.tokens, { input: 1000, output: 500, cachedRead: 0, cacheWrite: 0, estimated: false })
  t.equal(first.costUsd, '0.002')
  t.equal(first.marketCostUsd, '0.003')
  t.ok(first.latencyMs > 0 && first.upstreamMs > 0 && first.upstreamMs <= first.latencyMs)
  t.equal(first.headers.authorization, '[REDACTED]', 'Authorization is redacted')
  t.equal(first.headers['content-type'], 'application/json', 'other headers are kept')

  const streamed = access.find((l) => l.stream === true)!
  t.ok(streamed.ttftMs > 0 && streamed.ttftMs <= streamed.latencyMs, 'streams log their time to first token')
  const viaAnthropic = access.find((l) => l.route === 'anthropic')!
  t.equal(viaAnthropic.headers['x-api-key'], '[REDACTED]', 'x-api-key is redacted')
  t.equal(viaAnthropic.provider, 'mock')
  const refused = access.find((l) => l.status === 401)!
  t.match(refused, { outcome: 'rejected', errorCode: 'TOLLGATE_ERR_AUTH_INVALID_KEY' })
  t.notOk(refused.org, 'no organization for an unknown key')

  t.notMatch(raw(), gw.apiKey, 'the client key appears nowhere in the log')
  t.notMatch(raw(), 'tg-wrong-key', 'nor does a wrong key')
  t.notMatch(raw(), providerKey, 'nor the provider key')
})

t.test('accessLog.enabled false writes no access line', async (t) => {
  const { logger, lines } = capturingLogger()
  const gw = await createTestGateway({ config: { logger, accessLog: { enabled: false } } })
  t.teardown(() => gw.close())
  const res = await gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${gw.apiKey}` }, payload: { model: 'mock-echo', messages: [{ role: 'user', content: 'x' }] } })
  t.equal(res.statusCode, 200, res.body)
  await new Promise((r) => setTimeout(r, 50))
  t.equal(lines.filter((l) => l.log === 'access').length, 0)
})

t.test('OpenTelemetry spans for the request, each hook and the upstream call, with GenAI attributes', async (t) => {
  const upstream = await startFakeOpenAI({ script: () => ({ text: 'Traced.', model: 'gpt-test-2026-01-01', usage: { promptTokens: 42, completionTokens: 7 } }) })
  t.teardown(() => upstream.close())
  const gw = await createTestGateway({
    plugins: [slowHook({})],
    config: {
      providers: [{ id: 'vendor', kind: 'openai', baseUrl: upstream.baseUrl, apiKey: 'sk-x' }],
      models: [{ name: 'gpt-test', provider: 'vendor', upstreamModel: 'gpt-test-upstream', prices: { input: '1', output: '2' } }],
    },
  })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: gw.apiKey, maxRetries: 0 })

  // No SDK registered: nothing is recorded (and hook runs are not even kept).
  await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'before' }] })

  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  t.ok(otel.trace.setGlobalTracerProvider(provider as never), 'SDK registered')
  otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  t.teardown(async () => {
    otel.trace.disable()
    otel.propagation.disable()
    await provider.shutdown()
  })

  const incomingTrace = '0af7651916cd43dd8448eb211c80319c'
  const incomingParent = 'b7ad6b7169203331'
  const { response } = await client.chat.completions
    .create({ model: 'gpt-test', max_tokens: 64, temperature: 0.5, messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: `00-${incomingTrace}-${incomingParent}-01` } })
    .withResponse()
  const requestId = response.headers.get('x-request-id')

  const spans = await eventually(() => {
    const s = exporter.getFinishedSpans()
    return s.some((x) => x.attributes['tollgate.request_id'] === requestId) ? s : undefined
  })
  t.equal(spans.filter((s) => s.kind === 1).length, 1, 'one server span: the request before registration left none')
  const root = spans.find((s) => s.kind === 1)!
  t.equal(root.name, 'chat gpt-test')
  t.equal(root.spanContext().traceId, incomingTrace, 'joins the caller\'s trace (traceparent)')
  t.equal(root.parentSpanContext?.spanId, incomingParent)
  t.match(root.attributes, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.system': 'openai',
    'gen_ai.request.model': 'gpt-test',
    'gen_ai.response.model': 'gpt-test-2026-01-01',
    'gen_ai.request.max_tokens': 64,
    'gen_ai.request.temperature': 0.5,
    'gen_ai.usage.input_tokens': 42,
    'gen_ai.usage.output_tokens': 7,
    'http.response.status_code': 200,
    'tollgate.organization_id': gw.organizationId,
  })
  t.same(root.attributes['gen_ai.response.finish_reasons'], ['stop'])

  const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId)
  const hook = children.find((s) => s.name === 'hook observed.beforeUpstream')
  t.ok(hook, 'a span for the plugin hook')
  t.match(hook!.attributes, { 'tollgate.plugin': 'observed', 'tollgate.hook': 'beforeUpstream' })
  const hookMs = (hook!.duration[0] * 1e9 + hook!.duration[1]) / 1e6
  t.ok(hookMs >= 5, `the hook span lasts as long as the hook (${hookMs} ms)`)
  t.ok(children.some((s) => s.name === 'hook observed.onComplete'), 'onComplete has its span too')
  const call = children.find((s) => s.kind === 2)
  t.ok(call, 'a CLIENT span for the upstream call')
  t.equal(call!.name, 'chat gpt-test-upstream')
  t.match(call!.attributes, { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-test-upstream', 'gen_ai.response.model': 'gpt-test-2026-01-01', 'gen_ai.usage.input_tokens': 42, 'http.response.status_code': 200 })
  const start = (s: (typeof spans)[number]) => s.startTime[0] * 1e9 + s.startTime[1]
  t.ok(start(hook!) >= start(root) && start(call!) >= start(hook!), 'hook then upstream, inside the request')

  // An upstream failure marks the client span and the server span as errors.
  upstream.setScript(() => ({ status: 500, error: { message: 'down', type: 'server_error' } }))
  t.equal(await failureStatus(client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] })), 502)
  const failed = await eventually(() => exporter.getFinishedSpans().find((s) => s.kind === 1 && s.attributes['error.type'] === 'TOLLGATE_ERR_UPSTREAM_ERROR'))
  t.equal(failed.status.code, 2)
  const failedCall = exporter.getFinishedSpans().find((s) => s.kind === 2 && s.parentSpanContext?.spanId === failed.spanContext().spanId)
  t.equal(failedCall?.status.code, 2)
})
