/**
 * The fake upstreams are only useful if the vendors' own SDKs accept them: these tests point the
 * openai and @anthropic-ai/sdk clients straight at the fakes.
 */
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import t from 'tap'
import { anthropicErrorReply, startFakeAnthropic } from '../support/fake-anthropic.js'
import { openAIErrorReply, startFakeOpenAI } from '../support/fake-openai.js'

const openaiFake = await startFakeOpenAI({ apiKey: 'sk-test' })
const anthropicFake = await startFakeAnthropic({ apiKey: 'sk-ant-test' })
t.teardown(async () => {
  await openaiFake.close()
  await anthropicFake.close()
})
const openai = new OpenAI({ apiKey: 'sk-test', baseURL: openaiFake.baseUrl, maxRetries: 0 })
const anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: anthropicFake.url, maxRetries: 0 })

t.test('openai SDK: completion, stream with usage, tool calls, errors', async (t) => {
  openaiFake.setScript(() => ({ text: 'Hello you', usage: { promptTokens: 9, completionTokens: 2, cachedTokens: 4 } }))
  const completion = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(completion.choices[0].message.content, 'Hello you')
  t.equal(completion.usage?.prompt_tokens_details?.cached_tokens, 4)
  t.match(completion._request_id, /^req_/)

  const stream = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let usageChunk: unknown
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? ''
    if (chunk.usage) usageChunk = chunk
  }
  t.equal(text, 'Hello you')
  t.match(usageChunk, { choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } })
  t.same(openaiFake.requests.at(-1)?.body.stream_options, { include_usage: true })

  openaiFake.setScript(() => ({ toolCalls: [{ id: 'call_1', name: 'f', arguments: '{"a":1}' }] }))
  const runner = openai.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] })
  const final = await runner.finalChatCompletion()
  t.same(final.choices[0].message.tool_calls?.[0], { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } })

  openaiFake.setScript(() => openAIErrorReply(429))
  const err = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e)
  t.ok(err instanceof OpenAI.RateLimitError)
  t.equal(err.headers?.get('retry-after'), '7')

  const bad = new OpenAI({ apiKey: 'wrong', baseURL: openaiFake.baseUrl, maxRetries: 0 })
  t.ok((await bad.models.list().catch((e) => e)) instanceof OpenAI.NotFoundError, 'unknown routes are 404')
  t.ok((await bad.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)) instanceof OpenAI.AuthenticationError)
})

t.test('@anthropic-ai/sdk: message, stream with thinking and tools, overloaded errors', async (t) => {
  anthropicFake.setScript(() => ({ text: 'Bonjour', usage: { inputTokens: 3, outputTokens: 1, cacheReadTokens: 50 } }))
  const message = await anthropic.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
  t.same(message.content, [{ type: 'text', text: 'Bonjour' }])
  t.equal(message.usage.cache_read_input_tokens, 50)
  const headers = anthropicFake.requests.at(-1)?.headers ?? {}
  t.ok(headers['x-api-key'] === 'sk-ant-test' || headers.authorization === 'Bearer sk-ant-test', 'the key reached the fake')

  anthropicFake.setScript(() => ({ thinking: 'hmm', text: 'Using a tool', toolUses: [{ id: 'toolu_1', name: 'f', input: { a: [1, 2] } }], usage: { inputTokens: 5, outputTokens: 20 } }))
  const final = await anthropic.messages.stream({ model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage()
  t.same(
    final.content.map((b) => b.type),
    ['thinking', 'text', 'tool_use'],
  )
  t.same((final.content[2] as { input: unknown }).input, { a: [1, 2] })
  t.equal(final.stop_reason, 'tool_use')
  t.equal(final.usage.output_tokens, 20)
  t.equal(final.usage.input_tokens, 5)

  anthropicFake.setScript(() => anthropicErrorReply(529))
  const err = await anthropic.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e)
  t.ok(err instanceof Anthropic.APIError)
  t.equal(err.status, 529)
  t.equal(err.error?.error?.type, 'overloaded_error')

  anthropicFake.setScript(() => ({ pieces: ['a', 'b'], fault: { after: 4, kind: 'error' } }))
  const streamErr = await anthropic.messages
    .stream({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
    .finalMessage()
    .catch((e) => e)
  t.ok(streamErr instanceof Anthropic.APIError, 'the mid-stream error event throws')
  t.match(String(streamErr.message), /Overloaded/)
})
