/**
 * Cross-protocol paths: an OpenAI client served by an Anthropic upstream, and an Anthropic client
 * served by an OpenAI upstream, with tools and tool results both ways, checked on the wire at the
 * fake upstream and in what the client-side encoders produce.
 */
import t from 'tap'
import type { Usage } from '../../src/canonical/types.js'
import { anthropicProtocol } from '../../src/protocols/anthropic/anthropic-protocol.js'
import { encodeAnthropicRequest } from '../../src/protocols/anthropic/anthropic-request-encoder.js'
import { openAIProtocol } from '../../src/protocols/openai/openai-protocol.js'
import { encodeOpenAIRequest } from '../../src/protocols/openai/openai-request-encoder.js'
import { AnthropicProvider } from '../../src/providers/anthropic-provider.js'
import { OpenAIProvider } from '../../src/providers/openai-provider.js'
import { SseParser } from '../../src/providers/sse-parser.js'
import { startFakeAnthropic } from '../support/fake-anthropic.js'
import { startFakeOpenAI } from '../support/fake-openai.js'
import { anthropicRequest, callJson, callStream, openAIRequest, upstreamCall } from './helpers.js'

const fakeAnthropic = await startFakeAnthropic()
const fakeOpenAI = await startFakeOpenAI()
const anthropic = new AnthropicProvider({ id: 'anthropic', kind: 'anthropic', baseUrl: fakeAnthropic.baseUrl, apiKey: 'k' })
const openai = new OpenAIProvider({ id: 'openai', kind: 'openai', baseUrl: fakeOpenAI.baseUrl, apiKey: 'k' })
t.teardown(async () => {
  await anthropic.close()
  await openai.close()
  await fakeAnthropic.close()
  await fakeOpenAI.close()
})
t.beforeEach(() => {
  fakeAnthropic.requests.length = 0
  fakeOpenAI.requests.length = 0
})

/** An OpenAI conversation with system prompts, a tool round trip and an image. */
const openAIConversation = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'developer', content: 'Use tools.' },
    { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
    {
      role: 'assistant',
      content: '',
      tool_calls: [
        { id: 'call_p', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_r', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_p', content: 'sunny' },
    { role: 'tool', tool_call_id: 'call_r', content: 'rain' },
    { role: 'user', content: 'Thanks. Anything else?' },
  ],
  tools: [{ type: 'function', function: { name: 'weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
  tool_choice: { type: 'function', function: { name: 'weather' } },
  parallel_tool_calls: false,
  stop: ['END'],
  user: 'u-1',
  seed: 3,
}

t.test('OpenAI → Anthropic request: system on top, tool results as user blocks, tool_use with parsed input, merged turns', async (t) => {
  const request = openAIProtocol.decodeRequest(structuredClone(openAIConversation))
  const body = encodeAnthropicRequest(request, { model: 'claude-x' })
  t.same(body, {
    model: 'claude-x',
    max_tokens: 4096,
    system: [
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Use tools.' },
    ],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather in Paris and Rome?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_p', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_r', name: 'weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_p', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'call_r', content: 'rain' },
          { type: 'text', text: 'Thanks. Anything else?' },
        ],
      },
    ],
    tools: [{ name: 'weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    tool_choice: { type: 'tool', name: 'weather', disable_parallel_tool_use: true },
    stop_sequences: ['END'],
    metadata: { user_id: 'u-1' },
  })
})

/** An Anthropic conversation with a tool round trip (results inside a user turn, with text). */
const anthropicConversation = {
  model: 'claude-x',
  max_tokens: 300,
  system: 'Be brief.',
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } }] },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'need tool', signature: 's' },
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }], is_error: false },
        { type: 'text', text: 'And tomorrow?' },
      ],
    },
  ],
  tools: [{ name: 'weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, cache_control: { type: 'ephemeral' } }],
  tool_choice: { type: 'any', disable_parallel_tool_use: true },
  stop_sequences: ['END'],
  top_k: 10,
}

t.test('Anthropic → OpenAI request: system message, tool messages split out, data URLs, no Anthropic-only fields', async (t) => {
  const request = anthropicProtocol.decodeRequest(structuredClone(anthropicConversation))
  const body = encodeOpenAIRequest(request, { model: 'gpt-4o' })
  t.same(body, {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather?' },
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } },
        ],
      },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
      { role: 'user', content: 'And tomorrow?' },
    ],
    tools: [{ type: 'function', function: { name: 'weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    tool_choice: 'required',
    parallel_tool_calls: false,
    max_completion_tokens: 300,
    stop: ['END'],
  })
})

t.test('OpenAI client, Anthropic upstream, non-stream: tool_use comes back as tool_calls with usage', async (t) => {
  fakeAnthropic.setScript(() => ({ text: 'Let me look.', toolUses: [{ id: 'toolu_9', name: 'weather', input: { city: 'Oslo' } }], usage: { inputTokens: 30, outputTokens: 8, cacheReadTokens: 10 } }))
  const request = openAIRequest({ tools: openAIConversation.tools, tool_choice: 'required' })
  const result = await callJson(anthropic, upstreamCall(request).call)
  t.same(fakeAnthropic.requests[0].body.tool_choice, { type: 'any' })
  const out = JSON.parse(openAIProtocol.encodeResponse(result.response, { raw: result.raw, modified: false, requestedModel: 'gpt-4o' }))
  t.equal(out.object, 'chat.completion')
  t.equal(out.choices[0].message.content, 'Let me look.')
  t.same(out.choices[0].message.tool_calls, [{ id: 'toolu_9', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }])
  t.equal(out.choices[0].finish_reason, 'tool_calls')
  t.same(out.usage, { prompt_tokens: 40, completion_tokens: 8, total_tokens: 48, prompt_tokens_details: { cached_tokens: 10 } })
})

t.test('Anthropic client, OpenAI upstream, stream: the client gets a valid named-event stream with tool_use', async (t) => {
  fakeOpenAI.setScript(() => ({ text: 'Checking.', toolCalls: [{ id: 'call_7', name: 'weather', arguments: '{"city":"Oslo"}' }], usage: { promptTokens: 25, completionTokens: 9, cachedTokens: 5 } }))
  const request = anthropicRequest({ stream: true, tools: anthropicConversation.tools })
  const { chunks } = await callStream(openai, upstreamCall(request).call)
  t.same(fakeOpenAI.requests[0].body.stream_options, { include_usage: true })
  const encoder = anthropicProtocol.createStreamEncoder({ request, requestedModel: 'claude-x', requestId: 'r1' })
  let text = ''
  let usage: Usage | undefined
  for (const chunk of chunks) {
    for (const e of chunk.events) if (e.type === 'usage') usage = e.usage
    text += encoder.encode(chunk, false)
  }
  text += encoder.end(usage)
  const events = new SseParser().push(text).map((m) => ({ event: m.event, data: JSON.parse(m.data) }))
  t.same(
    events.map((e) => e.event),
    [
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ],
  )
  t.same(events[1].data.content_block, { type: 'text', text: '' })
  t.same(events[4].data.content_block, { type: 'tool_use', id: 'call_7', name: 'weather', input: {} })
  t.equal(events[4].data.index, 1)
  t.equal(events[5].data.delta.partial_json + events[6].data.delta.partial_json, '{"city":"Oslo"}')
  t.same(events[8].data, {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { output_tokens: 9, input_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 5 },
  })
})

t.test('OpenAI client, Anthropic upstream, stream: chat.completion.chunk stream with usage when asked', async (t) => {
  fakeAnthropic.setScript(() => ({ thinking: 'hmm', text: 'Two words', usage: { inputTokens: 3, outputTokens: 2, cacheWriteTokens: 4 } }))
  const request = openAIRequest({ stream: true, stream_options: { include_usage: true } })
  const { chunks } = await callStream(anthropic, upstreamCall(request).call)
  const encoder = openAIProtocol.createStreamEncoder({ request, requestedModel: 'gpt-4o', requestId: 'r2' })
  let text = ''
  let usage: Usage | undefined
  for (const chunk of chunks) {
    for (const e of chunk.events) if (e.type === 'usage') usage = e.usage
    text += encoder.encode(chunk, false)
  }
  text += encoder.end(usage)
  const messages = new SseParser().push(text).map((m) => m.data)
  t.equal(messages.at(-1), '[DONE]')
  const parsed = messages.slice(0, -1).map((d) => JSON.parse(d))
  t.notMatch(text, /thinking/, 'Anthropic-only blocks do not leak into the OpenAI stream')
  t.same(parsed[0].choices[0].delta, { role: 'assistant', content: '' })
  t.equal(parsed.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Two words')
  t.equal(parsed.at(-2).choices[0].finish_reason, 'stop')
  t.same(parsed.at(-1).usage, { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9, prompt_tokens_details: { cached_tokens: 0 } })
  t.ok(parsed.every((c) => c.id.startsWith('msg_fake') && c.object === 'chat.completion.chunk'))
})
