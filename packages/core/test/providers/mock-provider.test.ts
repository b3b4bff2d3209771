import { countTokens } from 'gpt-tokenizer/encoding/o200k_base'
import t from 'tap'
import { openAIProtocol } from '../../src/protocols/openai/openai-protocol.js'
import { MockProvider } from '../../src/providers/mock-provider.js'
import { estimateInputTokens, estimateTextTokens, estimateUsage } from '../../src/usage/token-estimator.js'
import { anthropicRequest, callJson, callStream, openAIRequest, textOf, upstreamCall, upstreamErrorOf } from './helpers.js'

const mock = new MockProvider()

t.test('echoes the last user message, labelled, with tokenizer usage', async (t) => {
  const request = openAIRequest({
    messages: [
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'Tell me a joke' },
    ],
  })
  const result = await callJson(mock, upstreamCall(request).call)
  t.equal(mock.protocol, 'openai')
  t.same(result.response.choices[0].message.content, [{ type: 'text', text: '[mock] Tell me a joke' }])
  t.equal(result.response.choices[0].finishReason, 'stop')
  t.equal(result.response.model, 'upstream-model')
  t.same(result.response.usage, {
    inputTokens: estimateInputTokens(request),
    outputTokens: countTokens('[mock] Tell me a joke'),
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    estimated: false,
  })
  const raw = JSON.parse(result.raw?.body ?? '{}')
  t.equal(raw.object, 'chat.completion')
  t.equal(raw.choices[0].message.content, '[mock] Tell me a joke')
  const again = await callJson(mock, upstreamCall(request).call)
  t.same(again.response.choices, result.response.choices, 'deterministic')
})

t.test('streams the reply in several chunks with OpenAI raw bytes and a usage chunk', async (t) => {
  const request = openAIRequest({ messages: [{ role: 'user', content: 'stream this reply in pieces please' }], stream: true })
  const { result, chunks, events } = await callStream(mock, upstreamCall(request).call)
  t.equal(result.protocol, 'openai')
  t.equal(textOf(events), '[mock] stream this reply in pieces please')
  t.ok(chunks.filter((c) => c.events.some((e) => e.type === 'text')).length >= 3, 'several text chunks')
  t.ok(chunks.every((c) => c.raw?.startsWith('data: {') && c.raw.endsWith('\n\n')))
  const usage = events.find((e) => e.type === 'usage')
  t.match(usage, { usage: { outputTokens: countTokens('[mock] stream this reply in pieces please'), estimated: false } })
  // the OpenAI client encoder turns it into a valid stream
  const encoder = openAIProtocol.createStreamEncoder({ request, requestedModel: 'gpt-4o', requestId: 'r' })
  const text = chunks.map((c) => encoder.encode(c, true)).join('') + encoder.end(undefined)
  t.notMatch(text, /"choices":\[\]/, 'usage chunk stripped: the client did not ask')
  t.ok(text.endsWith('data: [DONE]\n\n'))
})

t.test('calls a tool when tool_choice requires one, with arguments shaped by its schema', async (t) => {
  const tools = [
    { type: 'function', function: { name: 'other', parameters: { type: 'object', properties: {} } } },
    {
      type: 'function',
      function: { name: 'search', parameters: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'integer' }, exact: { type: 'boolean' } } } },
    },
  ]
  const request = openAIRequest({ messages: [{ role: 'user', content: 'cats' }], tools, tool_choice: { type: 'function', function: { name: 'search' } } })
  const result = await callJson(mock, upstreamCall(request).call)
  const part = result.response.choices[0].message.content[0]
  t.match(part, { type: 'tool_call', name: 'search' })
  t.same(JSON.parse((part as { arguments: string }).arguments), { query: 'cats', limit: 0, exact: false })
  t.equal(result.response.choices[0].finishReason, 'tool_calls')

  const auto = await callJson(mock, upstreamCall(openAIRequest({ tools, tool_choice: 'auto' })).call)
  t.equal(auto.response.choices[0].message.content[0].type, 'text', 'no tool call unless required')

  const streamed = await callStream(mock, upstreamCall(openAIRequest({ tools, tool_choice: 'required', stream: true })).call)
  const calls = streamed.events.filter((e) => e.type === 'tool_call')
  t.match(calls[0], { toolIndex: 0, name: 'other' })
  t.same(JSON.parse(calls.map((c) => (c as { arguments: string }).arguments).join('')), {})
})

t.test('honours max tokens with finish reason length', async (t) => {
  const request = openAIRequest({ messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }], max_tokens: 4 })
  const result = await callJson(mock, upstreamCall(request).call)
  t.equal(result.response.choices[0].finishReason, 'length')
  t.equal(result.response.usage?.outputTokens, 4)
})

t.test('serves Anthropic-client requests too (it speaks OpenAI internally)', async (t) => {
  const result = await callJson(mock, upstreamCall(anthropicRequest({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hola' }] }] })).call)
  t.same(result.response.choices[0].message.content, [{ type: 'text', text: '[mock] hola' }])
})

t.test('[mock:status=N] fails like an upstream answering N', async (t) => {
  const err = await upstreamErrorOf(() => mock.call(upstreamCall(openAIRequest({ messages: [{ role: 'user', content: 'please [mock:status=429]' }] })).call))
  t.equal(err.kind, 'http')
  t.equal(err.status, 429)
  t.equal(err.retryAfter, 1)
})

t.test('an abort stops the mock stream', async (t) => {
  const { call, controller } = upstreamCall(openAIRequest({ stream: true }))
  const result = await mock.call(call)
  if (result.kind !== 'stream') throw new Error('stream expected')
  const err = await upstreamErrorOf(async () => {
    for await (const _ of result.chunks) controller.abort()
  })
  t.equal(err.kind, 'stream')
})

t.test('token estimator: texts, framing, images, tools and long inputs', async (t) => {
  t.equal(estimateTextTokens(''), 0)
  t.equal(estimateTextTokens('Hello, world!'), countTokens('Hello, world!'))
  t.equal(estimateTextTokens('a <|endoftext|> b'), countTokens('a <|endoftext|> b', { disallowedSpecial: new Set() }), 'special tokens in text do not throw')
  const request = openAIRequest({ messages: [{ role: 'user', content: 'Hello, world!' }] })
  t.equal(estimateInputTokens(request), 3 + 3 + countTokens('Hello, world!'), 'reply priming + message framing + text')
  const withImage = openAIRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] })
  t.equal(estimateInputTokens(withImage), 3 + 3 + 765)
  const withTools = openAIRequest({ tools: [{ type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object' } } }] })
  t.ok(estimateInputTokens(withTools) > estimateInputTokens(request), 'tools count')
  const long = 'word '.repeat(100_000)
  const estimate = estimateTextTokens(long)
  const exact = countTokens(long)
  t.ok(Math.abs(estimate - exact) / exact < 0.05, `long text within 5% (${estimate} vs ${exact})`)
  t.same(estimateUsage(request, 'Hi!'), { inputTokens: estimateInputTokens(request), outputTokens: countTokens('Hi!'), cachedReadTokens: 0, cacheWriteTokens: 0, estimated: true })
})
