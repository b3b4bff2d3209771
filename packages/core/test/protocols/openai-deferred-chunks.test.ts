import t from 'tap'
import { DeferredChunk } from '../../src/canonical/deferred-chunk.js'
import { OpenAIStreamDecoder, onlyDeltas } from '../../src/protocols/openai/openai-response-decoder.js'
import { UpstreamError } from '../../src/providers/provider.js'

/**
 * A delta-only message of an OpenAI stream is handed out unparsed (a DeferredChunk) and decodes,
 * when read, to exactly what the eager decode gives; anything that may carry a start, usage,
 * finish reason or error is decoded at once.
 */

const chunk = (extra: Record<string, unknown>, delta: Record<string, unknown> = { content: 'hi' }, finish: string | null = null) =>
  JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })

t.test('onlyDeltas reads the keys that matter, whatever the spacing, and not text that looks like them', async (t) => {
  const cases: [string, boolean][] = [
    [chunk({}), true],
    [chunk({ usage: null }), true],
    [chunk({}, { content: '"usage": {"prompt_tokens": 1} and "finish_reason": "stop"' }), true],
    [chunk({}, { content: 'usage' }), true],
    [chunk({ usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }), false],
    [chunk({}, {}, 'stop'), false],
    [chunk({ error: null }), false],
    [chunk({}, { tool_calls: [{ index: 0, function: { arguments: '{"usage":{"a":1}}' } }] }), true],
    ['{ "choices" : [ { "delta" : { "content" : "x" } , "finish_reason" :\n "length" } ] }', false],
    ['{ "choices" : [ { "delta" : { "content" : "x" } , "finish_reason" :\n null } ], "usage"\t:\tnull }', true],
    ['not json', false],
    ['[1, 2]', false],
  ]
  for (const [data, expected] of cases) t.equal(onlyDeltas(data), expected, data)
})

t.test('a deferred chunk decodes to what the eager decode gives', async (t) => {
  const messages = [
    chunk({}, { role: 'assistant', content: '' }),
    chunk({ usage: null }, { content: 'Hello' }),
    chunk({}, { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }),
    chunk({}, { content: ' world' }, 'stop'),
    JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }),
  ]
  const lazy = new OpenAIStreamDecoder()
  const decoded = messages.map((m) => lazy.decode(m, `data: ${m}\n\n`))
  const kinds = decoded.map((d) => (d.kind === 'chunk' && d.chunk instanceof DeferredChunk ? 'deferred' : 'eager'))
  t.same(kinds, ['eager', 'deferred', 'deferred', 'eager', 'eager'], 'the first message, the finish and the usage are decoded at once')
  t.ok(lazy.finished, 'the finish reason was seen')
  const events = decoded.map((d) => (d.kind === 'chunk' ? d.chunk.events : []))
  t.same(events[1], [{ type: 'text', index: 0, text: 'Hello' }])
  t.same(events[2], [{ type: 'tool_call', index: 0, toolIndex: 0, id: 'call_1', name: 'f', arguments: '{"a"' }])
  t.same(events[3], [{ type: 'text', index: 0, text: ' world' }, { type: 'finish', index: 0, reason: 'stop' }])
  const second = decoded[1]
  t.equal(second.kind === 'chunk' && second.chunk.raw, `data: ${messages[1]}\n\n`, 'the raw bytes are kept for pass-through')
})

t.test('a deferred chunk that is not JSON fails when its events are read', async (t) => {
  const decoder = new OpenAIStreamDecoder()
  decoder.decode(chunk({}), 'raw')
  const item = decoder.decode('{"choices": [oops}', 'raw2')
  t.ok(item.kind === 'chunk' && item.chunk instanceof DeferredChunk)
  if (item.kind !== 'chunk') return
  t.throws(() => item.chunk.events, UpstreamError)
  t.throws(() => item.chunk.events, /not JSON/, 'and again on a second read')
})
