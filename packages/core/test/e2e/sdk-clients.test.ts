import t from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import type { UsageEvent } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { anthropicErrorReply, startFakeAnthropic } from '../support/fake-anthropic.ts'
import { openAIErrorReply, startFakeOpenAI } from '../support/fake-openai.ts'

/**
 * The official SDKs (openai v7, @anthropic-ai/sdk) through the gateway, against local fakes that
 * speak each vendor's wire format: both client protocols × both upstream protocols.
 */

const fakeOpenAI = await startFakeOpenAI({ apiKey: 'sk-upstream-openai' })
const fakeAnthropic = await startFakeAnthropic({ apiKey: 'sk-upstream-anthropic' })
const gw = await createTestGateway({
  config: {
    providers: [
      { id: 'oai', kind: 'openai', baseUrl: fakeOpenAI.baseUrl, apiKey: 'sk-upstream-openai' },
      { id: 'anth', kind: 'anthropic', baseUrl: fakeAnthropic.baseUrl, apiKey: 'sk-upstream-anthropic' },
    ],
    models: [
      { name: 'gpt-fake', provider: 'oai', upstreamModel: 'gpt-4o-mini', prices: { input: '0.15', output: '0.6', cachedRead: '0.075' }, marketPrices: { input: '0.3', output: '1.2' } },
      { name: 'claude-fake', provider: 'anth', upstreamModel: 'claude-sonnet-4', prices: { input: '3', output: '15', cachedRead: '0.3', cacheWrite: '3.75' } },
    ],
  },
})
const url = await gw.listen({ port: 0 })
t.teardown(async () => {
  await gw.close()
  await fakeOpenAI.close()
  await fakeAnthropic.close()
})
const recorded: UsageEvent[] = []
gw.events.on('usage.recorded', ({ events }) => void recorded.push(...events))
async function usageFor(requestId: string): Promise<UsageEvent> {
  await fakeOpenAI.waitFor(() => recorded.some((e) => e.requestId === requestId), 5000)
  return recorded.find((e) => e.requestId === requestId)!
}

const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
const anthropic = new Anthropic({ apiKey: gw.apiKey, baseURL: url, maxRetries: 0 })

const defaultScripts = () => {
  fakeOpenAI.setScript(() => ({ usage: { promptTokens: 21, completionTokens: 5, cachedTokens: 8 } }))
  fakeAnthropic.setScript(() => ({ usage: { inputTokens: 13, outputTokens: 6, cacheReadTokens: 8, cacheWriteTokens: 2 } }))
}

for (const model of ['gpt-fake', 'claude-fake']) {
  const upstreamIsOpenAI = model === 'gpt-fake'
  // Canonical input tokens include cache reads/writes; Anthropic reports them apart.
  const expected = upstreamIsOpenAI ? { input: 21, output: 5, cached: 8, write: 0 } : { input: 23, output: 6, cached: 8, write: 2 }

  t.test(`openai SDK → ${model}: non-stream, with usage`, async (t) => {
    defaultScripts()
    const { data, response } = await openai.chat.completions.create({ model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello gateway' }] }).withResponse()
    t.equal(data.choices[0].message.content, 'echo: hello gateway')
    t.equal(data.choices[0].finish_reason, 'stop')
    t.equal(data.usage?.prompt_tokens, expected.input)
    t.equal(data.usage?.completion_tokens, expected.output)
    t.equal(data.usage?.prompt_tokens_details?.cached_tokens, expected.cached)
    const event = await usageFor(response.headers.get('x-request-id')!)
    t.equal(event.inputTokens, expected.input)
    t.equal(event.outputTokens, expected.output)
    t.equal(event.cachedReadTokens, expected.cached)
    t.equal(event.cacheWriteTokens, expected.write)
    t.equal(event.estimated, false)
    t.equal(event.provider, upstreamIsOpenAI ? 'oai' : 'anth')
    t.equal(event.upstreamModel, upstreamIsOpenAI ? 'gpt-4o-mini' : 'claude-sonnet-4')
    if (upstreamIsOpenAI) {
      // (21-8) × 0.15 + 8 × 0.075 + 5 × 0.6 microdollars per token → picodollars
      t.equal(event.cost, 13n * 150_000n + 8n * 75_000n + 5n * 600_000n, 'exact cost at your price')
      t.equal(event.marketCost, 13n * 300_000n + 8n * 300_000n + 5n * 1_200_000n, 'exact cost at the market rate')
    } else {
      t.equal(event.cost, 13n * 3_000_000n + 8n * 300_000n + 2n * 3_750_000n + 6n * 15_000_000n)
      const last = fakeAnthropic.requests.at(-1)!
      t.equal(last.body.system?.[0]?.text ?? last.body.system, 'be brief', 'system message translated to top-level system')
      t.equal(last.headers['x-api-key'], 'sk-upstream-anthropic', 'the provider key, not the client key, goes upstream')
    }
  })

  t.test(`openai SDK → ${model}: stream, usage chunk only when asked`, async (t) => {
    defaultScripts()
    const stream = await openai.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count to five please' }] })
    let text = ''
    let usage: OpenAI.CompletionUsage | undefined | null
    let finish: string | null | undefined
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? ''
      finish ??= chunk.choices[0]?.finish_reason
      if (chunk.usage) usage = chunk.usage
    }
    t.equal(text, 'echo: count to five please')
    t.equal(finish, 'stop')
    t.equal(usage?.prompt_tokens, expected.input)
    t.equal(usage?.completion_tokens, expected.output)

    const quiet = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'no usage please' }] })
    let sawUsage = false
    let quietText = ''
    for await (const chunk of quiet) {
      if (chunk.usage) sawUsage = true
      quietText += chunk.choices[0]?.delta?.content ?? ''
    }
    t.equal(sawUsage, false, 'the usage chunk is stripped when the client did not ask for it')
    t.equal(quietText, 'echo: no usage please')
    if (upstreamIsOpenAI) t.same(fakeOpenAI.requests.at(-1)!.body.stream_options, { include_usage: true }, 'the gateway always asks the upstream for usage')
  })

  t.test(`anthropic SDK → ${model}: non-stream and stream`, async (t) => {
    defaultScripts()
    const msg = await anthropic.messages.create({ model, max_tokens: 100, system: 'be brief', messages: [{ role: 'user', content: 'hello from anthropic' }] })
    t.equal(msg.type, 'message')
    t.same(msg.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['echo: hello from anthropic'])
    t.equal(msg.stop_reason, 'end_turn')
    t.equal(msg.usage.output_tokens, expected.output)
    t.equal(msg.usage.cache_read_input_tokens ?? 0, expected.cached)
    t.equal(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0) + (msg.usage.cache_creation_input_tokens ?? 0), expected.input)

    const events: string[] = []
    const stream = anthropic.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'stream from anthropic' }] })
    stream.on('streamEvent', (e) => void events.push(e.type))
    const final = await stream.finalMessage()
    t.same(final.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['echo: stream from anthropic'])
    t.equal(final.usage.output_tokens, expected.output)
    t.equal(events[0], 'message_start')
    t.equal(events.at(-1), 'message_stop')
    t.ok(events.includes('content_block_delta') && events.includes('message_delta'))
  })

  t.test(`tool calls pass through both ways (→ ${model})`, async (t) => {
    const tool = { type: 'function' as const, function: { name: 'get_weather', description: 'weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }
    fakeOpenAI.setScript(() => ({ text: null, toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] }))
    fakeAnthropic.setScript(() => ({ text: null, toolUses: [{ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] }))
    const first = await openai.chat.completions.create({ model, tools: [tool], messages: [{ role: 'user', content: 'weather in Paris?' }] })
    const call = first.choices[0].message.tool_calls?.[0]
    t.equal(first.choices[0].finish_reason, 'tool_calls')
    t.equal(call?.type === 'function' ? call.function.name : undefined, 'get_weather')
    t.same(JSON.parse(call?.type === 'function' ? call.function.arguments : '{}'), { city: 'Paris' })

    defaultScripts()
    const second = await openai.chat.completions.create({
      model,
      tools: [tool],
      messages: [{ role: 'user', content: 'weather in Paris?' }, first.choices[0].message, { role: 'tool', tool_call_id: call!.id, content: '18°C and sunny' }],
    })
    t.match(second.choices[0].message.content, /echo/)
    if (upstreamIsOpenAI) {
      const body = fakeOpenAI.requests.at(-1)!.body
      t.same(body.tools[0].function.name, 'get_weather')
      t.equal(body.messages[2].role, 'tool')
      t.equal(body.messages[2].tool_call_id, 'call_1')
    } else {
      const body = fakeAnthropic.requests.at(-1)!.body
      t.same(body.tools[0], { name: 'get_weather', description: 'weather by city', input_schema: tool.function.parameters })
      t.same(body.messages[1].content.find((b: { type: string }) => b.type === 'tool_use'), { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } })
      const result = body.messages[2].content.find((b: { type: string }) => b.type === 'tool_result')
      t.equal(result.tool_use_id, 'toolu_1')
      t.match(JSON.stringify(result.content), /18°C and sunny/)
    }

    // Streamed tool calls reach the SDK as tool_call deltas it can assemble.
    fakeOpenAI.setScript(() => ({ text: null, toolCalls: [{ id: 'call_2', name: 'get_weather', arguments: '{"city":"Oslo"}' }] }))
    fakeAnthropic.setScript(() => ({ text: null, toolUses: [{ id: 'toolu_2', name: 'get_weather', input: { city: 'Oslo' } }] }))
    let args = ''
    let name = ''
    for await (const chunk of await openai.chat.completions.create({ model, stream: true, tools: [tool], messages: [{ role: 'user', content: 'Oslo?' }] })) {
      const d = chunk.choices[0]?.delta?.tool_calls?.[0]
      if (d?.function?.name) name = d.function.name
      args += d?.function?.arguments ?? ''
    }
    t.equal(name, 'get_weather')
    t.same(JSON.parse(args), { city: 'Oslo' })
  })

  t.test(`upstream errors map to each client's error format (→ ${model})`, async (t) => {
    const cases = [
      { status: 400, openai: OpenAI.BadRequestError, anthropic: Anthropic.BadRequestError, gateway: 400, code: 'TOLLGATE_ERR_UPSTREAM_BAD_REQUEST' },
      { status: 401, openai: OpenAI.InternalServerError, anthropic: Anthropic.InternalServerError, gateway: 502, code: 'TOLLGATE_ERR_UPSTREAM_AUTH' },
      { status: 429, openai: OpenAI.RateLimitError, anthropic: Anthropic.RateLimitError, gateway: 429, code: 'TOLLGATE_ERR_UPSTREAM_RATE_LIMITED' },
      { status: 500, openai: OpenAI.InternalServerError, anthropic: Anthropic.InternalServerError, gateway: 502, code: 'TOLLGATE_ERR_UPSTREAM_ERROR' },
    ]
    for (const c of cases) {
      fakeOpenAI.setScript(() => openAIErrorReply(c.status, { retryAfter: c.status === 429 ? '7' : undefined }))
      fakeAnthropic.setScript(() => anthropicErrorReply(c.status, { retryAfter: c.status === 429 ? '7' : undefined }))
      const oerr = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
      t.type(oerr, c.openai, `openai SDK: upstream ${c.status} → ${c.openai.name}`)
      t.equal(oerr.status, c.gateway)
      t.equal(oerr.code, c.code)
      if (c.status === 429) t.equal(oerr.headers.get('retry-after'), '7', 'Retry-After is passed on')
      if (c.status === 401) t.notMatch(oerr.message, /sk-|api key provided/i, 'the provider credential error is not leaked')
      const aerr = await anthropic.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
      t.type(aerr, c.anthropic, `anthropic SDK: upstream ${c.status} → ${c.anthropic.name}`)
      t.equal(aerr.status, c.gateway)
      t.equal(aerr.error?.type, 'error', 'Anthropic error envelope')
      t.equal(aerr.error?.error?.code, c.code)
    }
  })

  t.test(`a client abort mid-stream cancels the upstream and records estimated usage (→ ${model})`, async (t) => {
    const pieces = Array.from({ length: 40 }, (_, i) => `word${i} `)
    fakeOpenAI.setScript(() => ({ pieces, delayMs: 30 }))
    fakeAnthropic.setScript(() => ({ pieces, delayMs: 30 }))
    const fake = upstreamIsOpenAI ? fakeOpenAI : fakeAnthropic
    const closedBefore = fake.stats.streamsClosedEarly
    const before = recorded.length
    const controller = new AbortController()
    const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'a long answer please' }] }, { signal: controller.signal })
    let n = 0
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content && ++n === 3) controller.abort()
      }
    } catch (err) {
      t.equal((err as Error).name, 'APIUserAbortError')
    }
    await fake.waitFor(() => fake.stats.streamsClosedEarly > closedBefore, 3000)
    t.ok(fake.stats.streamsClosedEarly > closedBefore, 'the upstream stream was closed early')
    t.equal(fake.openStreams, 0)
    const aborted = () => recorded.slice(before).find((e) => e.model === model && e.streaming && e.status === 499)
    await fake.waitFor(() => aborted() !== undefined, 3000)
    const event = aborted()!
    t.equal(event.errorCode, undefined, 'an abort is not an error')
    t.equal(event.estimated, true)
    t.ok(event.inputTokens > 0, 'input tokens estimated from the request')
    t.ok(event.outputTokens >= 3, 'output tokens estimated from what was streamed')
    t.ok(event.cost > 0n, 'the estimated usage is priced')
  })
}

t.test('GET /v1/models lists the catalog for both SDKs', async (t) => {
  const list = await openai.models.list()
  t.same(list.data.map((m) => m.id).sort(), ['claude-fake', 'gpt-fake'])
  const alist = await anthropic.models.list()
  t.same(alist.data.map((m) => m.id).sort(), ['claude-fake', 'gpt-fake'])
})

t.test('Anthropic clients may send the key as x-api-key and any anthropic-version, which is passed on', async (t) => {
  defaultScripts()
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': gw.apiKey, 'anthropic-version': '2099-01-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-fake', max_tokens: 20, messages: [{ role: 'user', content: 'version check' }] }),
  })
  t.equal(res.status, 200)
  t.equal(fakeAnthropic.requests.at(-1)!.headers['anthropic-version'], '2099-01-01')
})

t.test("a project's own provider key (bring your own key) goes upstream instead of the gateway's, through the management API", async (t) => {
  defaultScripts()
  const set = await gw.app.inject({
    method: 'PUT',
    url: `/v1/projects/${gw.projectId}/provider-keys/oai`,
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    payload: { key: 'sk-project-own-key-1234' },
  })
  t.equal(set.statusCode < 300, true, `provider key stored (${set.statusCode})`)
  t.notMatch(set.body, /sk-project-own-key-1234/, 'the secret is never echoed')
  // The fake only accepts the gateway's key, so the project's key is answered with 401 → 502.
  const err = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'byok' }] }).catch((e) => e)
  t.equal(fakeOpenAI.requests.at(-1)!.headers.authorization, 'Bearer sk-project-own-key-1234', 'the project key was sent upstream')
  t.equal(err.status, 502)
  t.equal(err.code, 'TOLLGATE_ERR_UPSTREAM_AUTH')
  const del = await gw.app.inject({ method: 'DELETE', url: `/v1/projects/${gw.projectId}/provider-keys/oai`, headers: { authorization: `Bearer ${gw.apiKey}` } })
  t.equal(del.statusCode < 300, true, `provider key deleted (${del.statusCode})`)
  const ok = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'gateway key again' }] })
  t.equal(ok.choices[0].message.content, 'echo: gateway key again')
  t.equal(fakeOpenAI.requests.at(-1)!.headers.authorization, 'Bearer sk-upstream-openai')
})
