import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { TollgateError, createStateKey, definePlugin, type RequestContext } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { openAIChunk, startTinyUpstream } from '../support/tiny-upstream.ts'

const Trace = createStateKey<string[]>('test.trace')

interface Seen {
  id: string
  trace: string[]
  outcome?: string
  usage?: RequestContext['usage']
  status?: number
}

/** A plugin that uses every hook, records their order per request, and can be told to misbehave. */
function tracingPlugin(seen: Map<string, Seen>, behaviour: { throwIn?: string; reject?: boolean; rewriteModel?: string; upperChunks?: boolean; appendToResponse?: string }) {
  const mark = (ctx: RequestContext, name: string) => {
    let trace = ctx.state.get(Trace)
    if (!trace) {
      trace = []
      ctx.state.set(Trace, trace)
    }
    trace.push(name)
    if (behaviour.throwIn === name) {
      if (behaviour.reject) throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', `rejected by test in ${name}`)
      throw new Error(`boom in ${name}`)
    }
  }
  return definePlugin({
    id: 'tracer',
    register(host) {
      host.hooks.add('onAuthenticated', async (ctx) => {
        mark(ctx, 'onAuthenticated')
        if (behaviour.rewriteModel) ctx.request.model = behaviour.rewriteModel
      })
      host.hooks.add('beforeUpstream', async (ctx) => mark(ctx, 'beforeUpstream'))
      host.hooks.add('onUpstreamResponse', async (ctx) => mark(ctx, 'onUpstreamResponse'))
      host.hooks.add('onResponseChunk', async (ctx, chunk) => {
        const trace = ctx.state.get(Trace)!
        if (trace.at(-1) !== 'onResponseChunk') mark(ctx, 'onResponseChunk')
        if (!behaviour.upperChunks) return
        return { ...chunk, events: chunk.events.map((e) => (e.type === 'text' ? { ...e, text: e.text.toUpperCase() } : e)) }
      })
      host.hooks.add('onResponse', async (ctx, response) => {
        mark(ctx, 'onResponse')
        if (!behaviour.appendToResponse) return
        const first = response.choices[0].message.content[0]
        if (first?.type === 'text') first.text += behaviour.appendToResponse
        return response
      })
      host.hooks.add('onError', async (ctx) => mark(ctx, 'onError'))
      host.hooks.add('onAbort', async (ctx) => mark(ctx, 'onAbort'))
      host.hooks.add('onComplete', async (ctx) => {
        mark(ctx, 'onComplete')
        seen.set(ctx.id, { id: ctx.id, trace: ctx.state.get(Trace)!, outcome: ctx.outcome, usage: ctx.usage, status: ctx.status })
      })
    },
  })
}

async function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error('timed out waiting')
    await sleep(10)
  }
}

t.test('hooks run in the documented order on success (non-stream and stream), and may rewrite and transform', async (t) => {
  const seen = new Map<string, Seen>()
  const gw = await createTestGateway({
    plugins: [tracingPlugin(seen, { rewriteModel: 'mock-echo', upperChunks: true, appendToResponse: ' [checked]' })()],
  })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const client = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })

  const res = await client.chat.completions.create({ model: 'no-such-model-rewritten-by-hook', messages: [{ role: 'user', content: 'hello there' }] })
  t.match(res.choices[0].message.content, /hello there \[checked\]$/, 'onResponse replaced the response')
  const nonStream = await waitFor(() => seen.get(res._request_id ?? ''))
  t.same(nonStream.trace, ['onAuthenticated', 'beforeUpstream', 'onUpstreamResponse', 'onResponse', 'onComplete'])
  t.equal(nonStream.outcome, 'success')
  t.ok((nonStream.usage?.inputTokens ?? 0) > 0, 'final usage is on the context in onComplete')

  const stream = await client.chat.completions.create({ model: 'whatever', stream: true, messages: [{ role: 'user', content: 'stream me please' }] })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.ok(text.length > 0)
  t.equal(text, text.toUpperCase(), 'every streamed chunk went through the transforming hook')
  t.match(text, /STREAM ME PLEASE/)
  const streamed = await waitFor(() => [...seen.values()].find((s) => s.trace.includes('onResponseChunk')))
  t.same(streamed.trace, ['onAuthenticated', 'beforeUpstream', 'onUpstreamResponse', 'onResponseChunk', 'onComplete'])
})

for (const hook of ['onAuthenticated', 'beforeUpstream', 'onUpstreamResponse', 'onResponse']) {
  t.test(`a hook that throws in ${hook} rejects the request (fail closed) and onError/onComplete still run`, async (t) => {
    const seen = new Map<string, Seen>()
    const gw = await createTestGateway({ plugins: [tracingPlugin(seen, { throwIn: hook })()] })
    t.teardown(() => gw.close())
    const res = await gw.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      payload: { model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }] },
    })
    t.equal(res.statusCode, 500)
    t.equal(res.json().error.code, 'TOLLGATE_ERR_PLUGIN_HOOK_FAILED')
    t.match(res.json().error.message, /plugin "tracer" failed in/)
    t.notMatch(res.body, /boom/, 'the internal error message is not sent to the client')
    const s = await waitFor(() => seen.get(res.headers['x-request-id'] as string))
    t.equal(s.trace.at(-2), 'onError')
    t.equal(s.trace.at(-1), 'onComplete')
    t.equal(s.outcome, 'rejected')
    t.equal(s.trace.includes('onResponse') && hook !== 'onResponse', false, 'nothing after the failing hook ran')
  })
}

t.test('a hook rejecting with a TollgateError sends that error in the client protocol', async (t) => {
  const seen = new Map<string, Seen>()
  const gw = await createTestGateway({ plugins: [tracingPlugin(seen, { throwIn: 'beforeUpstream', reject: true })()] })
  t.teardown(() => gw.close())
  const res = await gw.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { 'x-api-key': gw.apiKey, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    payload: { model: 'mock-echo', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
  })
  t.equal(res.statusCode, 403)
  t.equal(res.json().type, 'error')
  t.equal(res.json().error.type, 'permission_error')
  t.match(res.json().error.message, /rejected by test in beforeUpstream/)
})

t.test('a chunk hook that throws mid-stream ends the stream with an error event; on the first chunk it is a plain error', async (t) => {
  let chunks = 0
  let throwAt = 3
  const completed: (string | undefined)[] = []
  const failing = definePlugin({
    id: 'chunk-fail',
    register(host) {
      host.hooks.add('onResponseChunk', async () => {
        if (++chunks === throwAt) throw new Error('chunk hook exploded')
      })
      host.hooks.add('onComplete', async (ctx) => void completed.push(ctx.outcome))
    },
  })
  const gw = await createTestGateway({ plugins: [failing()] })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const client = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
  const stream = await client.chat.completions.create({ model: 'mock-echo', stream: true, messages: [{ role: 'user', content: 'one two three four five six seven' }] })
  let text = ''
  await t.rejects(async () => {
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''
  }, /plugin "chunk-fail" failed in onResponseChunk/)
  t.ok(text.length > 0, 'the chunks before the failure reached the client')
  t.notMatch(text, /seven/, 'nothing after the failure reached the client')

  chunks = 0
  throwAt = 1
  const err = await client.chat.completions.create({ model: 'mock-echo', stream: true, messages: [{ role: 'user', content: 'hello' }] }).catch((e: InstanceType<typeof OpenAI.APIError>) => e)
  t.type(err, OpenAI.InternalServerError, 'a failure before the first byte is a plain error response')
  t.equal((err as InstanceType<typeof OpenAI.APIError>).status, 500)
  await waitFor(() => (completed.length === 2 ? true : undefined))
  t.same(completed, ['rejected', 'rejected'])
})

t.test('onComplete runs on upstream error with the mapped status', async (t) => {
  const upstream = await startTinyUpstream((_req, _body, res) => {
    res.writeHead(500, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error' } }))
  })
  t.teardown(() => upstream.close())
  const seen = new Map<string, Seen>()
  const gw = await createTestGateway({
    plugins: [tracingPlugin(seen, {})()],
    config: {
      providers: [{ id: 'flaky', kind: 'openai', baseUrl: upstream.url, apiKey: 'sk-test' }],
      models: [{ name: 'flaky-model', provider: 'flaky', prices: { input: '1', output: '1' } }],
    },
  })
  t.teardown(() => gw.close())
  const res = await gw.app.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    payload: { model: 'flaky-model', messages: [{ role: 'user', content: 'hi' }] },
  })
  t.equal(res.statusCode, 502)
  t.equal(res.json().error.code, 'TOLLGATE_ERR_UPSTREAM_ERROR')
  const s = await waitFor(() => seen.get(res.headers['x-request-id'] as string))
  t.same(s.trace, ['onAuthenticated', 'beforeUpstream', 'onError', 'onComplete'])
  t.equal(s.outcome, 'upstream_error')
  t.equal(s.status, 502)
})

t.test('onComplete runs on client abort mid-stream, with estimated usage, and the upstream is cancelled', async (t) => {
  const upstream = await startTinyUpstream((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(openAIChunk('partial answer '))
    const timer = setInterval(() => res.write(openAIChunk('more ')), 50)
    res.on('close', () => clearInterval(timer))
  })
  t.teardown(() => upstream.close())
  const seen = new Map<string, Seen>()
  const gw = await createTestGateway({
    plugins: [tracingPlugin(seen, {})()],
    config: {
      providers: [{ id: 'slow', kind: 'openai', baseUrl: upstream.url, apiKey: 'sk-test' }],
      models: [{ name: 'slow-model', provider: 'slow', prices: { input: '1', output: '1' } }],
    },
  })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const controller = new AbortController()
  const client = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
  const stream = await client.chat.completions.create(
    { model: 'slow-model', stream: true, messages: [{ role: 'user', content: 'tell me a long story' }] },
    { signal: controller.signal },
  )
  let received = 0
  try {
    for await (const _ of stream) {
      if (++received === 3) controller.abort()
    }
  } catch (err) {
    t.equal((err as Error).name, 'APIUserAbortError', 'only the abort itself may surface')
  }
  t.equal(received, 3, 'the stream stopped at the abort')
  const s = await waitFor(() => [...seen.values()][0])
  t.same(s.trace.slice(-2), ['onAbort', 'onComplete'])
  t.equal(s.outcome, 'aborted')
  t.equal(s.usage?.estimated, true, 'usage is estimated when the stream was cut')
  t.ok((s.usage?.inputTokens ?? 0) > 0 && (s.usage?.outputTokens ?? 0) > 0)
  await waitFor(() => (upstream.openSockets === 0 ? true : undefined), 3000)
  t.equal(upstream.openSockets, 0, 'the upstream connection was closed')
})

t.test('a client gone before the upstream answered cancels the upstream call, aborts ctx.signal and runs onAbort', async (t) => {
  // Two gateways: one whose plugin reads ctx.signal (the AbortSignal is made then), one with no
  // plugin (the pipeline's own cancellation alone must reach the HTTP client).
  for (const readsSignal of [true, false]) {
    let upstreamGotRequest = false
    const upstream = await startTinyUpstream(() => {
      upstreamGotRequest = true // never answers
    })
    const signals: AbortSignal[] = []
    const outcomes: string[] = []
    const plugin = definePlugin({
      id: 'signal-reader',
      register(host) {
        host.hooks.add('beforeUpstream', async (ctx) => {
          if (readsSignal) signals.push(ctx.signal)
        })
        host.hooks.add('onComplete', async (ctx) => {
          outcomes.push(ctx.outcome ?? 'none')
        })
      },
    })
    const gw = await createTestGateway({
      plugins: [plugin()],
      config: {
        providers: [{ id: 'silent', kind: 'openai', baseUrl: upstream.url, apiKey: 'sk-test' }],
        models: [{ name: 'silent-model', provider: 'silent', prices: { input: '1', output: '1' } }],
      },
    })
    const url = await gw.listen({ port: 0 })
    const controller = new AbortController()
    const pending = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'silent-model', messages: [{ role: 'user', content: 'hi' }] }),
      signal: controller.signal,
    }).catch((err: Error) => err)
    await waitFor(() => (upstreamGotRequest ? true : undefined))
    t.equal(upstream.openSockets, 1, 'the upstream call is open')
    controller.abort()
    t.equal(((await pending) as Error).name, 'AbortError')
    await waitFor(() => (upstream.openSockets === 0 ? true : undefined), 3000)
    t.equal(upstream.openSockets, 0, `the upstream connection was closed (plugin reads ctx.signal: ${readsSignal})`)
    const outcome = await waitFor(() => outcomes[0])
    t.equal(outcome, 'aborted')
    if (readsSignal) {
      t.equal(signals.length, 1)
      t.equal(signals[0].aborted, true, 'the AbortSignal a plugin took from ctx.signal aborted')
    }
    await gw.close()
    await upstream.close()
  }
})

t.test('unknown hook names, bad plugin ids, missing dependencies and bad plugin config fail at startup naming the plugin', async (t) => {
  const unknownHook = definePlugin({ id: 'bad-hook', register: (host) => host.hooks.add('onWhatever' as never, (async () => {}) as never) })
  await t.rejects(createTestGateway({ plugins: [unknownHook()] }), { code: 'TOLLGATE_ERR_PLUGIN_INVALID', message: /plugin "bad-hook": unknown hook "onWhatever"/ })

  const needsAudit = definePlugin({ id: 'needs-audit', dependencies: ['audit'], register() {} })
  await t.rejects(createTestGateway({ plugins: [needsAudit()] }), { code: 'TOLLGATE_ERR_PLUGIN_DEPENDENCY_MISSING', message: /plugin "needs-audit" depends on plugin "audit"/ })

  const configured = definePlugin<{ limit: number; mode: string }>({
    id: 'configured',
    configSchema: { type: 'object', additionalProperties: false, required: ['limit'], properties: { limit: { type: 'integer', minimum: 1 }, mode: { enum: ['a', 'b'], default: 'a' } } },
    register() {},
  })
  await t.rejects(createTestGateway({ plugins: [configured({ limit: 0 })] }), { code: 'TOLLGATE_ERR_PLUGIN_CONFIG_INVALID', message: /plugin "configured": config\.limit must be >= 1/ })
  await t.rejects(createTestGateway({ plugins: [configured({ limit: 2, mode: 'c' })] }), { message: /plugin "configured": config\.mode must be one of "a", "b"/ })
  await t.rejects(createTestGateway({ plugins: [configured({})] }), { message: /config\.limit is required/ })

  const badId = definePlugin({ id: 'Bad_Id', register() {} })
  await t.rejects(createTestGateway({ plugins: [badId()] }), { message: /kebab-case/ })
})

t.test('plugins load in dependency order and get defaults from their schema', async (t) => {
  const order: string[] = []
  let received: unknown
  const a = definePlugin({ id: 'a-plugin', dependencies: ['b-plugin'], register: () => void order.push('a') })
  const b = definePlugin<{ level: string }>({
    id: 'b-plugin',
    configSchema: { type: 'object', properties: { level: { type: 'string', default: 'high' } } },
    register: (_host, config) => {
      order.push('b')
      received = config
    },
  })
  const gw = await createTestGateway({ plugins: [a(), b()] })
  t.teardown(() => gw.close())
  t.same(order, ['b', 'a'])
  t.same(received, { level: 'high' })
})

t.test('bad gateway config fails at startup naming the path', async (t) => {
  await t.rejects(createTestGateway({ config: { providers: [{ id: 'x', kind: 'nope' as never }] } }), {
    code: 'TOLLGATE_ERR_CONFIG_INVALID',
    message: /config\.providers\[0\]\.kind must be one of "openai", "anthropic", "mock"/,
  })
  await t.rejects(createTestGateway({ config: { server: { bodyLimitBytes: 'big' as never } } }), { message: /config\.server\.bodyLimitBytes must be integer/ })
  await t.rejects(createTestGateway({ config: { models: [{ name: 'm', provider: 'mock', prices: { input: '0.1234567' } }] } }), { message: /config\.models\[0\]\.prices\.input/ })
})

t.test('with migrations turned off, a database with pending migrations is refused with a clear message', async (t) => {
  await t.rejects(createTestGateway({ config: { database: { migrate: false } } }), { code: 'TOLLGATE_ERR_CONFIG_INVALID', message: /pending migration\(s\) \(core:0001_init, core:0002_routing, core:0003_model_output_limit\).*tollgate migrate/ })
})
