import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Anthropic from '@anthropic-ai/sdk'
import t, { type Test } from 'tap'
import type { CanonicalResponse, ResponseChunk, Usage } from '../../src/canonical/types.js'
import { TollgateError } from '../../src/errors/tollgate-error.js'
import { anthropicProtocol } from '../../src/protocols/anthropic/anthropic-protocol.js'
import { encodeAnthropicRequest } from '../../src/protocols/anthropic/anthropic-request-encoder.js'
import { AnthropicStreamDecoder } from '../../src/protocols/anthropic/anthropic-response-decoder.js'
import { SseParser } from '../../src/providers/sse-parser.js'

/** A request using most of the real Messages surface. */
const fullRequest = () => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  system: [
    { type: 'text', text: 'You are terse.' },
    { type: 'text', text: 'Long cached context…', cache_control: { type: 'ephemeral' } },
  ],
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in these?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' }, title: 'Doc' },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Let me look.', signature: 'sig==' },
        { type: 'text', text: 'Looking it up.' },
        { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'cat' } },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: 'A cat.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'And?' },
      ],
    },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_2', name: 'lookup', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'failed' }], is_error: true }] },
  ],
  tools: [
    { name: 'lookup', description: 'Looks things up', input_schema: { type: 'object', properties: { q: { type: 'string' } } }, cache_control: { type: 'ephemeral' } },
    { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
  ],
  tool_choice: { type: 'any', disable_parallel_tool_use: true },
  stop_sequences: ['END'],
  temperature: 0.5,
  top_p: 0.9,
  top_k: 40,
  metadata: { user_id: 'user-9' },
  thinking: { type: 'enabled', budget_tokens: 512 },
})

t.test('decodes the Messages surface into the canonical request', async (t) => {
  const req = anthropicProtocol.decodeRequest(fullRequest())
  t.equal(req.protocol, 'anthropic')
  t.equal(req.maxTokens, 1024)
  t.same(req.stop, ['END'])
  t.equal(req.temperature, 0.5)
  t.equal(req.topP, 0.9)
  t.equal(req.user, 'user-9')
  t.equal(req.toolChoice, 'required')
  t.same(req.extra, { top_k: 40, metadata: { user_id: 'user-9' }, thinking: { type: 'enabled', budget_tokens: 512 }, disable_parallel_tool_use: true })
  t.same(
    req.messages.map((m) => m.role),
    ['system', 'user', 'assistant', 'user', 'assistant', 'user'],
  )
  t.same(
    req.messages[0].content.map((p) => (p.type === 'text' ? p.text : p.type)),
    ['You are terse.', 'Long cached context…'],
  )
  const user = req.messages[1].content
  t.same(user[1], { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' })
  t.same(user[2], { type: 'image', url: 'https://example.com/cat.jpg' })
  t.equal(user[3].type, 'opaque')
  const assistant = req.messages[2].content
  t.same(assistant[0], { type: 'opaque', protocol: 'anthropic', value: { type: 'thinking', thinking: 'Let me look.', signature: 'sig==' } })
  t.match(assistant[2], { type: 'tool_call', id: 'toolu_1', name: 'lookup', arguments: '{"q":"cat"}' })
  t.match(req.messages[3].content[0], { type: 'tool_result', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'A cat.' }] })
  t.match(req.messages[5].content[0], { type: 'tool_result', toolCallId: 'toolu_2', isError: true, content: [{ type: 'text', text: 'failed' }] })
  t.same(
    req.tools?.map((x) => x.name),
    ['lookup', 'web_search'],
  )
})

t.test('decode → encode for an Anthropic upstream gives back the client body (cache_control, thinking, server tools kept)', async (t) => {
  const body = fullRequest()
  const req = anthropicProtocol.decodeRequest(structuredClone(body))
  const encoded = encodeAnthropicRequest(req, { model: 'claude-sonnet-4-5' })
  const expected: any = structuredClone(body)
  // a tool_result whose content is one plain text block is sent as a string (equivalent)
  expected.messages[4].content[0].content = 'failed'
  t.same(encoded, expected)
})

t.test('validation errors name the field', async (t) => {
  const ok = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }
  const cases: [unknown, string][] = [
    [{ model: 'm', messages: ok.messages }, 'max_tokens'],
    [{ ...ok, max_tokens: 0 }, 'max_tokens'],
    [{ ...ok, messages: [{ role: 'system', content: 'x' }] }, 'messages[0].role'],
    [{ ...ok, messages: [{ role: 'user' }] }, 'messages[0].content'],
    [{ ...ok, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text'],
    [{ ...ok, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'x' } }] }] }, 'messages[0].content[0].source.media_type'],
    [{ ...ok, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f' }] }] }, 'messages[0].content[0].input'],
    [{ ...ok, messages: [{ role: 'user', content: [{ type: 'tool_result' }] }] }, 'messages[0].content[0].tool_use_id'],
    [{ ...ok, tools: [{ name: 'f' }] }, 'tools[0].input_schema'],
    [{ ...ok, tool_choice: { type: 'tool' } }, 'tool_choice.name'],
    [{ ...ok, tool_choice: { type: 'sometimes' } }, 'tool_choice.type'],
    [{ ...ok, temperature: 1.5 }, 'temperature'],
    [{ ...ok, system: [{ type: 'image', text: 'x' }] }, 'system[0].type'],
  ]
  for (const [body, field] of cases) {
    try {
      anthropicProtocol.decodeRequest(body)
      t.fail(`accepted an invalid body (expected an error on ${field})`)
    } catch (err) {
      t.equal((err as TollgateError).code, 'TOLLGATE_ERR_REQUEST_INVALID_BODY')
      t.equal((err as TollgateError).field, field, `field of ${JSON.stringify(body).slice(0, 90)}`)
      t.ok((err as TollgateError).message.startsWith(`${field} `), (err as TollgateError).message)
    }
  }
})

const messageBody = {
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    { type: 'thinking', thinking: 'hmm', signature: 's' },
    { type: 'text', text: 'Hello there' },
  ],
  stop_reason: 'stop_sequence',
  stop_sequence: 'END',
  usage: { input_tokens: 5, cache_creation_input_tokens: 10, cache_read_input_tokens: 100, output_tokens: 3, service_tier: 'standard' },
}

t.test('encodeResponse returns the raw body untouched when nothing changed', async (t) => {
  const raw = JSON.stringify(messageBody)
  const out = anthropicProtocol.encodeResponse({ id: 'x', model: 'y', created: 0, choices: [] }, { raw: { protocol: 'anthropic', body: raw }, modified: false, requestedModel: 'm' })
  t.equal(out, raw)
})

t.test('encodeResponse patches the raw body when a hook changed it (stop sequence, thinking, usage kept)', async (t) => {
  const response: CanonicalResponse = {
    id: 'msg_01',
    model: 'claude-sonnet-4-5-20250929',
    created: 0,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: [{ type: 'opaque', protocol: 'anthropic', value: messageBody.content[0] }, { type: 'text', text: 'Hello [redacted]' }] },
        finishReason: 'stop',
      },
    ],
    usage: { inputTokens: 115, outputTokens: 3, cachedReadTokens: 100, cacheWriteTokens: 10, estimated: false },
  }
  const out = JSON.parse(anthropicProtocol.encodeResponse(response, { raw: { protocol: 'anthropic', body: JSON.stringify(messageBody) }, modified: true, requestedModel: 'm' }))
  t.same(out.content, [messageBody.content[0], { type: 'text', text: 'Hello [redacted]' }])
  t.equal(out.stop_reason, 'stop_sequence')
  t.equal(out.stop_sequence, 'END')
  t.same(out.usage, messageBody.usage, 'input_tokens excludes cache reads and writes again')
})

t.test('encodeResponse builds a message from an OpenAI response', async (t) => {
  const response: CanonicalResponse = {
    id: 'chatcmpl-1',
    model: 'gpt-4o',
    created: 1,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: [{ type: 'text', text: 'Let me check.' }, { type: 'tool_call', id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' }] },
        finishReason: 'tool_calls',
      },
    ],
    usage: { inputTokens: 50, outputTokens: 9, cachedReadTokens: 20, cacheWriteTokens: 0, estimated: false },
  }
  const out = JSON.parse(anthropicProtocol.encodeResponse(response, { raw: { protocol: 'openai', body: '{}' }, modified: false, requestedModel: 'm' }))
  t.same(out, {
    id: 'chatcmpl-1',
    type: 'message',
    role: 'assistant',
    model: 'gpt-4o',
    content: [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'call_1', name: 'lookup', input: { q: 'x' } },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 30, cache_creation_input_tokens: 0, cache_read_input_tokens: 20, output_tokens: 9 },
  })
})

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** An upstream Anthropic stream with thinking, text, a tool call and cache usage. */
const upstreamStream = [
  sse('message_start', {
    type: 'message_start',
    message: { id: 'msg_s', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 4, cache_read_input_tokens: 50, cache_creation_input_tokens: 6, output_tokens: 1 } },
  }),
  sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  sse('ping', { type: 'ping' }),
  sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }),
  sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } }),
  sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
  sse('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
  sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hello ' } }),
  sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'world' } }),
  sse('content_block_stop', { type: 'content_block_stop', index: 1 }),
  sse('content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_9', name: 'lookup', input: {} } }),
  sse('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"q":' } }),
  sse('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '"cat"}' } }),
  sse('content_block_stop', { type: 'content_block_stop', index: 2 }),
  sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 12 } }),
  sse('message_stop', { type: 'message_stop' }),
]

function decodeUpstream(): ResponseChunk[] {
  const parser = new SseParser()
  const decoder = new AnthropicStreamDecoder()
  const out: ResponseChunk[] = []
  for (const m of parser.push(upstreamStream.join(''))) {
    const item = decoder.decode(m.event, m.data, m.raw)
    if (item.kind === 'chunk') out.push(item.chunk)
  }
  return out
}

function newEncoder() {
  const request = anthropicProtocol.decodeRequest({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], stream: true })
  return anthropicProtocol.createStreamEncoder({ request, requestedModel: 'm', requestId: 'r1' })
}

t.test('stream encoder forwards an Anthropic upstream byte for byte (ping dropped)', async (t) => {
  const encoder = newEncoder()
  let out = ''
  for (const chunk of decodeUpstream()) out += encoder.encode(chunk, true)
  out += encoder.end(undefined)
  t.equal(out, upstreamStream.filter((m) => !m.startsWith('event: ping')).join(''))
})

/** Serves fixed SSE text; returns an Anthropic SDK client pointed at it. */
async function sdkAgainst(t: Test, text: string): Promise<Anthropic> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return new Anthropic({ apiKey: 'k', baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxRetries: 0 })
}

const params = { model: 'm', max_tokens: 100, messages: [{ role: 'user' as const, content: 'hi' }] }

t.test('the Anthropic SDK reads a stream encoded from OpenAI events (text, tool call, usage with cache)', async (t) => {
  const usage: Usage = { inputTokens: 120, outputTokens: 15, cachedReadTokens: 100, cacheWriteTokens: 0, estimated: false }
  const chunks: ResponseChunk[] = [
    { events: [{ type: 'start', id: 'chatcmpl-1', model: 'gpt-4o', created: 1 }] },
    { events: [{ type: 'text', index: 0, text: 'Checking ' }] },
    { events: [{ type: 'text', index: 0, text: 'now.' }] },
    { events: [{ type: 'tool_call', index: 0, toolIndex: 0, id: 'call_1', name: 'lookup', arguments: '' }] },
    { events: [{ type: 'tool_call', index: 0, toolIndex: 0, arguments: '{"q":' }] },
    { events: [{ type: 'tool_call', index: 0, toolIndex: 0, arguments: '"cat"}' }] },
    { events: [{ type: 'finish', index: 0, reason: 'tool_calls' }] },
    { events: [{ type: 'usage', usage }] },
  ]
  const encoder = newEncoder()
  const text = chunks.map((c) => encoder.encode(c, false)).join('') + encoder.end(usage)
  for (const message of text.split('\n\n').filter(Boolean)) t.ok(message.startsWith('event: '), 'every message has an event line')
  const client = await sdkAgainst(t, text)
  const message = await client.messages.stream(params).finalMessage()
  t.equal(message.id, 'chatcmpl-1')
  t.equal(message.model, 'gpt-4o')
  t.same(
    message.content.map((b) => (b.type === 'text' ? { type: 'text', text: b.text } : b)),
    [
      { type: 'text', text: 'Checking now.' },
      { type: 'tool_use', id: 'call_1', name: 'lookup', input: { q: 'cat' } },
    ],
  )
  t.equal(message.stop_reason, 'tool_use')
  t.equal(message.usage.input_tokens, 20, 'input_tokens excludes cache reads')
  t.equal(message.usage.cache_read_input_tokens, 100)
  t.equal(message.usage.output_tokens, 15)
})

t.test('the Anthropic SDK reads raw chunks mixed with a hook-modified chunk', async (t) => {
  const chunks = decodeUpstream()
  const encoder = newEncoder()
  let text = ''
  for (const chunk of chunks) {
    const isWorld = chunk.events.some((e) => e.type === 'text' && e.text === 'world')
    if (isWorld) text += encoder.encode({ events: [{ type: 'text', index: 0, text: '[redacted]' }] }, false)
    else text += encoder.encode(chunk, true)
  }
  text += encoder.end({ inputTokens: 60, outputTokens: 12, cachedReadTokens: 50, cacheWriteTokens: 6, estimated: false })
  const client = await sdkAgainst(t, text)
  const message = await client.messages.stream(params).finalMessage()
  t.same(
    message.content.map((b) => b.type),
    ['thinking', 'text', 'tool_use'],
  )
  t.equal((message.content[1] as { text: string }).text, 'Hello [redacted]')
  t.same((message.content[2] as { input: unknown }).input, { q: 'cat' })
  t.equal(message.usage.input_tokens, 4)
  t.equal(message.usage.cache_read_input_tokens, 50)
  t.equal(message.usage.output_tokens, 12)
})

t.test('the Anthropic SDK throws on the encoded error event', async (t) => {
  const encoder = newEncoder()
  const text =
    encoder.encode({ events: [{ type: 'text', index: 0, text: 'partial' }] }, false) + encoder.error(new TollgateError('TOLLGATE_ERR_UPSTREAM_OVERLOADED', 'Provider is overloaded'))
  t.match(text, /event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error"/)
  const client = await sdkAgainst(t, text)
  let thrown: unknown
  try {
    await client.messages.stream(params).finalMessage()
  } catch (err) {
    thrown = err
  }
  t.ok(thrown instanceof Anthropic.APIError, 'APIError')
  t.match(String((thrown as Error).message), /overloaded/)
})

t.test('the stream decoder combines message_start input counts with message_delta output', async (t) => {
  const chunks = decodeUpstream()
  const usage = chunks.flatMap((c) => c.events).filter((e) => e.type === 'usage')
  t.same(usage, [{ type: 'usage', usage: { inputTokens: 60, outputTokens: 12, cachedReadTokens: 50, cacheWriteTokens: 6, estimated: false } }])
  const tools = chunks.flatMap((c) => c.events).filter((e) => e.type === 'tool_call')
  t.same(tools, [
    { type: 'tool_call', index: 0, toolIndex: 0, id: 'toolu_9', name: 'lookup', arguments: '' },
    { type: 'tool_call', index: 0, toolIndex: 0, arguments: '{"q":' },
    { type: 'tool_call', index: 0, toolIndex: 0, arguments: '"cat"}' },
  ])
})

t.test('errorBody is the Anthropic error shape', async (t) => {
  const body = anthropicProtocol.errorBody(new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'max_tokens is required', { field: 'max_tokens' }), 'req-1')
  t.same(body, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens is required', code: 'TOLLGATE_ERR_REQUEST_INVALID_BODY', field: 'max_tokens' }, request_id: 'req-1' })
})
