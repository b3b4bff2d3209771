import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import t, { type Test } from 'tap'
import type { CanonicalResponse, ResponseChunk, Usage } from '../../src/canonical/types.js'
import { TollgateError } from '../../src/errors/tollgate-error.js'
import { openAIProtocol } from '../../src/protocols/openai/openai-protocol.js'
import { encodeOpenAIRequest } from '../../src/protocols/openai/openai-request-encoder.js'
import { OpenAIStreamDecoder } from '../../src/protocols/openai/openai-response-decoder.js'

/** A request using most of the real Chat Completions surface. */
const fullRequest = () => ({
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
    {
      role: 'user',
      name: 'ada',
      content: [
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
        { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
      ],
    },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'A cat.' },
    { role: 'assistant', content: 'It is a cat.', refusal: null },
    { role: 'user', content: 'Thanks!' },
  ],
  tools: [
    {
      type: 'function',
      function: { name: 'lookup', description: 'Looks things up', parameters: { type: 'object', properties: { q: { type: 'string' } } }, strict: true },
    },
  ],
  tool_choice: 'auto',
  max_completion_tokens: 256,
  temperature: 0.2,
  top_p: 0.9,
  stop: 'END',
  user: 'user-7',
  response_format: { type: 'json_object' },
  seed: 42,
  logprobs: true,
  n: 1,
  presence_penalty: 0.5,
  parallel_tool_calls: false,
  metadata: { team: 'x' },
  store: false,
  reasoning_effort: 'low',
})

t.test('decodes the Chat Completions surface into the canonical request', async (t) => {
  const req = openAIProtocol.decodeRequest(fullRequest())
  t.equal(req.protocol, 'openai')
  t.equal(req.model, 'gpt-4o')
  t.equal(req.stream, false)
  t.equal(req.includeUsage, false)
  t.equal(req.maxTokens, 256)
  t.equal(req.temperature, 0.2)
  t.equal(req.topP, 0.9)
  t.same(req.stop, ['END'])
  t.equal(req.user, 'user-7')
  t.equal(req.toolChoice, 'auto')
  t.same(
    req.tools?.map((x) => ({ name: x.name, description: x.description, parameters: x.parameters })),
    [{ name: 'lookup', description: 'Looks things up', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
  )
  t.same(req.extra, {
    response_format: { type: 'json_object' },
    seed: 42,
    logprobs: true,
    n: 1,
    presence_penalty: 0.5,
    parallel_tool_calls: false,
    metadata: { team: 'x' },
    store: false,
    reasoning_effort: 'low',
  })
  t.same(
    req.messages.map((m) => m.role),
    ['system', 'developer', 'user', 'assistant', 'tool', 'assistant', 'user'],
  )
  t.same(req.messages[0].content, [{ type: 'text', text: 'You are terse.' }])
  const user = req.messages[2]
  t.equal(user.name, 'ada')
  t.same(user.content[1], { type: 'image', url: 'https://example.com/cat.png', detail: 'low' })
  t.same(user.content[2], { type: 'opaque', protocol: 'openai', value: { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } } })
  t.same(req.messages[3].content, [{ type: 'tool_call', id: 'call_1', name: 'lookup', arguments: '{"q":"cat"}' }])
  t.same(req.messages[4].content, [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'A cat.' }] }])
})

t.test('stream requests record include_usage', async (t) => {
  const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }
  t.equal(openAIProtocol.decodeRequest(base).includeUsage, false)
  const req = openAIProtocol.decodeRequest({ ...base, stream_options: { include_usage: true } })
  t.equal(req.stream, true)
  t.equal(req.includeUsage, true)
})

t.test('validation errors name the field', async (t) => {
  const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }
  const cases: [unknown, string][] = [
    [{ messages: ok.messages }, 'model'],
    [{ model: 'm' }, 'messages'],
    [{ model: 'm', messages: [] }, 'messages'],
    [{ model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'm', messages: [{ content: 'x' }] }, 'messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content[0].image_url.url'],
    [{ model: 'm', messages: [ok.messages[0], { role: 'tool', content: 'x' }] }, 'messages[1].tool_call_id'],
    [{ model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f' } }] }] }, 'messages[0].tool_calls[0].function.arguments'],
    [{ ...ok, temperature: 3 }, 'temperature'],
    [{ ...ok, max_tokens: 0 }, 'max_tokens'],
    [{ ...ok, stop: [1] }, 'stop[0]'],
    [{ ...ok, tools: [{ type: 'function', function: { description: 'x' } }] }, 'tools[0].function.name'],
    [{ ...ok, tool_choice: 'always' }, 'tool_choice'],
    [{ ...ok, stream: 'yes' }, 'stream'],
  ]
  for (const [body, field] of cases) {
    try {
      openAIProtocol.decodeRequest(body)
      t.fail(`accepted an invalid body (expected an error on ${field})`)
    } catch (err) {
      t.ok(err instanceof TollgateError, 'a TollgateError')
      t.equal((err as TollgateError).code, 'TOLLGATE_ERR_REQUEST_INVALID_BODY')
      t.equal((err as TollgateError).field, field, `field of ${JSON.stringify(body).slice(0, 80)}`)
      t.match((err as TollgateError).message, field.replace(/[[\].]/g, (c) => `\\${c}`) ? new RegExp(`^${field.replace(/[[\].]/g, (c) => `\\${c}`)} `) : /./)
    }
  }
})

t.test('decode → encode for an OpenAI upstream gives back the client body', async (t) => {
  const body = fullRequest()
  const req = openAIProtocol.decodeRequest(structuredClone(body))
  const encoded = encodeOpenAIRequest(req, { model: 'gpt-4o' })
  // string content of a single text part stays a string, arrays stay arrays
  const expected: Record<string, unknown> = structuredClone(body)
  ;(expected.messages as { content: unknown }[])[1].content = 'Answer in English.'
  ;(expected as { stop: unknown }).stop = ['END']
  t.same(encoded, expected)
  t.same(Object.keys(encoded).sort(), Object.keys(expected).sort(), 'no extra keys')
})

t.test('the encoder keeps max_tokens when the client used it, and always asks a stream for usage', async (t) => {
  const req = openAIProtocol.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 9, stream: true })
  const encoded = encodeOpenAIRequest(req, { model: 'upstream-m' })
  t.equal(encoded.model, 'upstream-m')
  t.equal(encoded.max_tokens, 9)
  t.equal(encoded.max_completion_tokens, undefined)
  t.same(encoded.stream_options, { include_usage: true })
})

const completionBody = {
  id: 'chatcmpl-abc',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
  usage: {
    prompt_tokens: 20,
    completion_tokens: 2,
    total_tokens: 22,
    prompt_tokens_details: { cached_tokens: 8, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  },
  system_fingerprint: 'fp_123',
  service_tier: 'default',
}

const canonicalOf = (text: string, usage?: Usage): CanonicalResponse => ({
  id: 'chatcmpl-abc',
  model: 'gpt-4o-2024-08-06',
  created: 1700000000,
  choices: [{ index: 0, message: { role: 'assistant', content: [{ type: 'text', text }] }, finishReason: 'stop' }],
  usage,
})

t.test('encodeResponse returns the raw body untouched when nothing changed', async (t) => {
  const raw = JSON.stringify(completionBody)
  const out = openAIProtocol.encodeResponse(canonicalOf('Hello there'), { raw: { protocol: 'openai', body: raw }, modified: false, requestedModel: 'gpt-4o' })
  t.equal(out, raw)
})

t.test('encodeResponse patches the raw body when a hook changed the response', async (t) => {
  const usage = { inputTokens: 20, outputTokens: 3, cachedReadTokens: 8, cacheWriteTokens: 0, estimated: false }
  const out = JSON.parse(
    openAIProtocol.encodeResponse(canonicalOf('Hello [redacted]', usage), { raw: { protocol: 'openai', body: JSON.stringify(completionBody) }, modified: true, requestedModel: 'gpt-4o' }),
  )
  t.equal(out.choices[0].message.content, 'Hello [redacted]')
  t.equal(out.system_fingerprint, 'fp_123', 'unmodelled fields survive')
  t.equal(out.service_tier, 'default')
  t.same(out.choices[0].message.annotations, [])
  t.equal(out.model, 'gpt-4o-2024-08-06', 'model is what the upstream reported')
  t.same(out.usage, {
    prompt_tokens: 20,
    completion_tokens: 3,
    total_tokens: 23,
    prompt_tokens_details: { cached_tokens: 8, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  })
})

t.test('encodeResponse builds a chat.completion from another protocol', async (t) => {
  const response: CanonicalResponse = {
    id: 'msg_01',
    model: 'claude-sonnet-4',
    created: 1700000001,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: [{ type: 'text', text: 'Let me check.' }, { type: 'tool_call', id: 'toolu_1', name: 'lookup', arguments: '{"q":"x"}' }] },
        finishReason: 'tool_calls',
      },
    ],
    usage: { inputTokens: 130, outputTokens: 12, cachedReadTokens: 100, cacheWriteTokens: 20, estimated: false },
  }
  const out = JSON.parse(openAIProtocol.encodeResponse(response, { raw: { protocol: 'anthropic', body: '{}' }, modified: false, requestedModel: 'sonnet' }))
  t.equal(out.object, 'chat.completion')
  t.equal(out.model, 'claude-sonnet-4')
  t.equal(out.choices[0].finish_reason, 'tool_calls')
  t.equal(out.choices[0].message.content, 'Let me check.')
  t.same(out.choices[0].message.tool_calls, [{ id: 'toolu_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }])
  t.same(out.usage, { prompt_tokens: 130, completion_tokens: 12, total_tokens: 142, prompt_tokens_details: { cached_tokens: 100 } })
})

/** Upstream SSE text of a short OpenAI stream with the usage chunk (the gateway always asks for it). */
const upstreamMessages = [
  { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1700000002, model: 'gpt-4o-x', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], usage: null },
  { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1700000002, model: 'gpt-4o-x', choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }], usage: null },
  { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1700000002, model: 'gpt-4o-x', choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: null }], usage: null },
  { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1700000002, model: 'gpt-4o-x', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null },
  {
    id: 'chatcmpl-s',
    object: 'chat.completion.chunk',
    created: 1700000002,
    model: 'gpt-4o-x',
    choices: [],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_tokens_details: { cached_tokens: 3 } },
  },
].map((m) => `data: ${JSON.stringify(m)}\n\n`)

function decodeUpstream(): ResponseChunk[] {
  const decoder = new OpenAIStreamDecoder()
  return upstreamMessages.map((raw) => {
    const item = decoder.decode(raw.slice(6, -2), raw)
    if (item.kind !== 'chunk') throw new Error('unexpected')
    return item.chunk
  })
}

function encodeAll(includeUsage: boolean, passRaw: boolean, chunks = decodeUpstream(), finalUsage?: Usage): string {
  const request = openAIProtocol.decodeRequest({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: includeUsage } })
  const encoder = openAIProtocol.createStreamEncoder({ request, requestedModel: 'gpt-4o', requestId: 'r1' })
  let out = ''
  for (const chunk of chunks) out += encoder.encode(chunk, passRaw)
  return out + encoder.end(finalUsage)
}

t.test('stream encoder forwards raw bytes and strips the usage chunk the client did not ask for', async (t) => {
  const without = encodeAll(false, true)
  t.equal(without, upstreamMessages.slice(0, 4).join('') + 'data: [DONE]\n\n')
  const withUsage = encodeAll(true, true)
  t.equal(withUsage, upstreamMessages.join('') + 'data: [DONE]\n\n')
})

t.test('stream encoder re-encodes chunks when not passing raw', async (t) => {
  const text = encodeAll(true, false)
  const data = text
    .split('\n\n')
    .filter(Boolean)
    .map((m) => m.replace(/^data: /, ''))
  t.equal(data.at(-1), '[DONE]')
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d))
  t.same(chunks[0].choices[0].delta, { role: 'assistant', content: '' }, 'role delta first')
  t.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Hello')
  for (const c of chunks) {
    t.equal(c.id, 'chatcmpl-s')
    t.equal(c.model, 'gpt-4o-x')
    t.equal(c.object, 'chat.completion.chunk')
  }
  t.equal(chunks.at(-2).choices[0].finish_reason, 'stop')
  t.same(chunks.at(-1).choices, [])
  t.equal(chunks.at(-1).usage.prompt_tokens_details.cached_tokens, 3)
  const noUsage = encodeAll(false, false)
  t.notMatch(noUsage, /"usage"/, 'no usage without include_usage')
})

t.test('stream encoder adds the usage chunk at the end when the upstream sent none', async (t) => {
  const chunks = decodeUpstream().slice(0, 4)
  const usage = { inputTokens: 9, outputTokens: 4, cachedReadTokens: 0, cacheWriteTokens: 0, estimated: true }
  const out = encodeAll(true, true, chunks, usage)
  const last = out.split('\n\n').filter(Boolean).at(-2) as string
  t.same(JSON.parse(last.slice(6)).usage, { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13, prompt_tokens_details: { cached_tokens: 0 } })
  t.notMatch(encodeAll(false, true, chunks, usage), /prompt_tokens/)
})

t.test('stream error event has the OpenAI error shape', async (t) => {
  const request = openAIProtocol.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true })
  const encoder = openAIProtocol.createStreamEncoder({ request, requestedModel: 'm', requestId: 'r' })
  const text = encoder.error(new TollgateError('TOLLGATE_ERR_UPSTREAM_STREAM_ERROR', 'Provider broke off'))
  t.match(text, /^data: \{"error":\{/)
  t.same(JSON.parse(text.slice(6)), { error: { message: 'Provider broke off', type: 'api_error', param: null, code: 'TOLLGATE_ERR_UPSTREAM_STREAM_ERROR' } })
  t.ok(text.endsWith('\n\n'))
})

/** Serves a fixed SSE body on a local server; returns an OpenAI SDK client pointed at it. */
async function sdkAgainst(t: Test, sse: string): Promise<OpenAI> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(sse)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return new OpenAI({ apiKey: 'k', baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, maxRetries: 0 })
}

t.test('the openai SDK reads the encoded stream: text, tool calls and usage', async (t) => {
  const events: ResponseChunk[] = [
    { events: [{ type: 'start', id: 'msg_1', model: 'claude-x', created: 1700000003 }] },
    { events: [{ type: 'text', index: 0, text: 'Checking ' }] },
    { events: [{ type: 'tool_call', index: 0, toolIndex: 0, id: 'toolu_1', name: 'lookup', arguments: '' }] },
    { events: [{ type: 'tool_call', index: 0, toolIndex: 0, arguments: '{"q":' }] },
    { events: [{ type: 'tool_call', index: 0, toolIndex: 0, arguments: '"cat"}' }] },
    { events: [{ type: 'finish', index: 0, reason: 'tool_calls' }, { type: 'usage', usage: { inputTokens: 11, outputTokens: 7, cachedReadTokens: 2, cacheWriteTokens: 0, estimated: false } }] },
  ]
  const request = openAIProtocol.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  const encoder = openAIProtocol.createStreamEncoder({ request, requestedModel: 'm', requestId: 'r' })
  const sse = events.map((c) => encoder.encode(c, false)).join('') + encoder.end(undefined)
  const client = await sdkAgainst(t, sse)
  const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let args = ''
  let name = ''
  let finish: string | null = null
  let usage: unknown
  for await (const chunk of stream) {
    const choice = chunk.choices[0]
    if (choice?.delta?.content) text += choice.delta.content
    const call = choice?.delta?.tool_calls?.[0]
    if (call?.function?.name) name = call.function.name
    if (call?.function?.arguments) args += call.function.arguments
    if (choice?.finish_reason) finish = choice.finish_reason
    if (chunk.usage) usage = chunk.usage
  }
  t.equal(text, 'Checking ')
  t.equal(name, 'lookup')
  t.same(JSON.parse(args), { q: 'cat' })
  t.equal(finish, 'tool_calls')
  t.same(usage, { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, prompt_tokens_details: { cached_tokens: 2 } })
})

t.test('the openai SDK throws APIError on the encoded error event', async (t) => {
  const request = openAIProtocol.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true })
  const encoder = openAIProtocol.createStreamEncoder({ request, requestedModel: 'm', requestId: 'r' })
  const sse = encoder.encode({ events: [{ type: 'text', index: 0, text: 'partial' }] }, false) + encoder.error(new TollgateError('TOLLGATE_ERR_UPSTREAM_STREAM_ERROR', 'Provider broke off'))
  const client = await sdkAgainst(t, sse)
  const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true })
  let text = ''
  let thrown: unknown
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  } catch (err) {
    thrown = err
  }
  t.ok(thrown instanceof OpenAI.APIError, 'APIError')
  t.equal((thrown as InstanceType<typeof OpenAI.APIError>).message, 'Provider broke off')
  t.equal(text, 'partial')
})

t.test('errorBody is the OpenAI error shape', async (t) => {
  const body = openAIProtocol.errorBody(new TollgateError('TOLLGATE_ERR_MODEL_NOT_FOUND', 'no such model', { field: 'model' }), 'req-1')
  t.same(body, { error: { message: 'no such model', type: 'not_found_error', param: 'model', code: 'TOLLGATE_ERR_MODEL_NOT_FOUND' } })
})
