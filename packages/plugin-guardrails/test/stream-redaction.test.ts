import t from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { startGuardedGateway } from './support/gateway.ts'
import { PLANTED, splitAt } from './support/planted.ts'

/**
 * Every planted secret and PII item, split across 2 chunks at every offset and across 3 chunks
 * at every first offset, streamed through the gateway to the real openai and Anthropic SDKs:
 * the bytes the client receives never hold the item, and the text the SDK yields equals the
 * non-streamed redaction of the same text.
 */
const g = await startGuardedGateway()
t.teardown(() => g.close())

const captured: Buffer[] = []
const capturingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init)
  const body = Buffer.from(await res.arrayBuffer())
  captured.push(body)
  return new Response(body, { status: res.status, headers: res.headers })
}
const openai = new OpenAI({ apiKey: g.gw.apiKey, baseURL: `${g.url}/v1`, maxRetries: 0, fetch: capturingFetch })
const anthropic = new Anthropic({ apiKey: g.gw.apiKey, baseURL: g.url, maxRetries: 0, fetch: capturingFetch })

/**
 * Cut points: 2 chunks at every offset inside the item; 3 chunks at every pair of offsets for
 * items up to 20 characters, and for longer ones at every first offset with a second cut that
 * moves with it (every pair would be tens of thousands of requests).
 */
function cutsFor(prefix: number, len: number): number[][] {
  const out: number[][] = []
  for (let i = 1; i < len; i++) out.push([prefix + i])
  if (len <= 20) {
    for (let i = 1; i < len - 1; i++) for (let j = i + 1; j < len; j++) out.push([prefix + i, prefix + j])
  } else {
    for (let i = 1; i < len - 1; i++) out.push([prefix + i, prefix + i + 1 + ((i * 7) % (len - i - 1))])
  }
  return out
}

for (const item of PLANTED) {
  const text = `Sure, here it is: ${item.value} — keep it safe.`
  const expected = `Sure, here it is: ${item.placeholder} — keep it safe.`
  const prefix = text.indexOf(item.value)
  const cuts = cutsFor(prefix, item.value.length)

  t.test(`${item.name}: non-stream redaction is the reference`, async (t) => {
    g.fakeOpenAI.setScript(() => ({ text }))
    const res = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'go' }] })
    t.equal(res.choices[0].message.content, expected)
  })

  t.test(`${item.name}: openai SDK stream, ${cuts.length} splits`, async (t) => {
    let leaks = 0
    let mismatches = 0
    for (const c of cuts) {
      g.fakeOpenAI.setScript(() => ({ text, pieces: splitAt(text, c) }))
      captured.length = 0
      const stream = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'go' }], stream: true })
      let got = ''
      for await (const chunk of stream) got += chunk.choices[0]?.delta?.content ?? ''
      if (Buffer.concat(captured).toString('utf8').includes(item.value)) leaks++
      if (got !== expected) mismatches++
    }
    t.equal(leaks, 0, 'no received bytes hold the item')
    t.equal(mismatches, 0, 'streamed text equals the non-stream redaction')
  })

  t.test(`${item.name}: anthropic SDK stream, ${cuts.length} splits`, async (t) => {
    let leaks = 0
    let mismatches = 0
    for (const c of cuts) {
      g.fakeAnthropic.setScript(() => ({ text, pieces: splitAt(text, c) }))
      captured.length = 0
      const stream = anthropic.messages.stream({ model: 'claude-fake', max_tokens: 100, messages: [{ role: 'user', content: 'go' }] })
      let got = ''
      for await (const ev of stream) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') got += ev.delta.text
      if (Buffer.concat(captured).toString('utf8').includes(item.value)) leaks++
      if (got !== expected) mismatches++
    }
    t.equal(leaks, 0, 'no received bytes hold the item')
    t.equal(mismatches, 0, 'streamed text equals the non-stream redaction')
  })
}

t.test('tool-call arguments are guarded in streams too', async (t) => {
  for (const item of PLANTED.filter((p) => ['email', 'openai key', 'us ssn'].includes(p.name))) {
    const args = JSON.stringify({ to: item.value, note: 'send' })
    const expected = JSON.stringify({ to: item.placeholder, note: 'send' })
    const prefix = args.indexOf(item.value)
    let leaks = 0
    let mismatches = 0
    for (const c of cutsFor(prefix, item.value.length)) {
      g.fakeOpenAI.setScript(() => ({ text: null, toolCalls: [{ id: 'call_1', name: 'send', arguments: args, pieces: splitAt(args, c) }] }))
      captured.length = 0
      const stream = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'go' }], stream: true, tools: [{ type: 'function', function: { name: 'send', parameters: { type: 'object' } } }] })
      let got = ''
      for await (const chunk of stream) got += chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? ''
      if (Buffer.concat(captured).toString('utf8').includes(item.value)) leaks++
      if (got !== expected) mismatches++
    }
    t.equal(leaks, 0, `${item.name}: no received bytes hold the item`)
    t.equal(mismatches, 0, `${item.name}: arguments equal the non-stream redaction`)
  }
})

t.test('anthropic SDK: tool-use input is redacted in the stream; a block verdict ends the stream with an error event', async (t) => {
  const email = PLANTED.find((p) => p.name === 'email')!.value
  g.fakeAnthropic.setScript(() => ({ text: null, toolUses: [{ id: 'toolu_1', name: 'send', input: { to: email, note: 'send' } }] }))
  captured.length = 0
  const stream = anthropic.messages.stream({ model: 'claude-fake', max_tokens: 100, messages: [{ role: 'user', content: 'go' }], tools: [{ name: 'send', input_schema: { type: 'object' } }] })
  const final = await stream.finalMessage()
  const tool = final.content.find((c) => c.type === 'tool_use')
  t.same(tool?.type === 'tool_use' ? tool.input : undefined, { to: '[EMAIL]', note: 'send' })
  t.notOk(Buffer.concat(captured).toString('utf8').includes(email))

  const put = await g.gw.app.inject({
    method: 'PUT',
    url: `/v1/guardrails/projects/${g.gw.projectId}/policy`,
    headers: { authorization: `Bearer ${g.gw.apiKey}` },
    payload: { rules: { 'secret.*': { action: 'block' } } },
  })
  t.equal(put.statusCode, 200, put.body)
  const key = PLANTED.find((p) => p.name === 'github token')!.value
  const text = `Here you go: ${key} and more text after it.`
  g.fakeAnthropic.setScript(() => ({ text, pieces: [text.slice(0, 20), text.slice(20, 40), text.slice(40)] }))
  captured.length = 0
  let got = ''
  const err = await (async () => {
    const s = anthropic.messages.stream({ model: 'claude-fake', max_tokens: 100, messages: [{ role: 'user', content: 'go' }] })
    for await (const ev of s) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') got += ev.delta.text
  })().catch((e) => e)
  t.ok(err instanceof Anthropic.APIError, 'the SDK raises the error event')
  t.match(String(err?.message), /secret\.github/)
  const raw = Buffer.concat(captured).toString('utf8')
  t.notOk(raw.includes(key), 'the key never reached the client')
  t.match(raw, /event: error/)
  t.notOk(got.includes('more text after'), 'nothing after the verdict')
  await g.gw.app.inject({ method: 'DELETE', url: `/v1/guardrails/projects/${g.gw.projectId}/policy`, headers: { authorization: `Bearer ${g.gw.apiKey}` } })
})
