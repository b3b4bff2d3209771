import t from 'tap'
import OpenAI from 'openai'
import { costOf, parsePricePerMillion } from '@tollgate/core'
import { billingLedgerRef, type RequestSettlement } from '@tollgate/plugin-billing-stripe'
import { assertLedgerInvariant, billingGateway, buyCredits, maxCostFor, MODEL, settleAll, startFakeOpenAI } from './budgets-support.ts'

const PIECES = ['The ', 'gateway ', 'reserves ', 'then ', 'settles ', 'the ', 'actual ', 'cost.']

async function debitOf(gw: Parameters<typeof settleAll>[0], requestId: string): Promise<RequestSettlement | undefined> {
  return gw.services.get(billingLedgerRef).settledRequest(requestId)
}

t.test('the same prompt streamed and not streamed debits the same amount, at the model price with cached tokens and savings', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  fake.setScript(() => ({ pieces: PIECES, text: PIECES.join(''), usage: { promptTokens: 40, completionTokens: 12, cachedTokens: 16 } }))
  const gw = await billingGateway(fake, {}, {
    models: [{ name: MODEL, provider: 'fake', prices: { input: '3', output: '15', cachedRead: '0.3' }, marketPrices: { input: '5', output: '20', cachedRead: '0.5' } }],
  })
  t.teardown(() => gw.close())
  await buyCredits(gw, gw.organizationId, 10n ** 12n)
  const client = new OpenAI({ apiKey: gw.apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0 })
  const messages = [{ role: 'user' as const, content: 'Explain budgets in one sentence.' }]

  const plain = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 64 }).withResponse()
  const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 64, stream: true, stream_options: { include_usage: true } }).withResponse()
  let text = ''
  for await (const chunk of stream.data) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, PIECES.join(''), 'the stream passed through')

  await settleAll(gw)
  const a = await debitOf(gw, plain.response.headers.get('x-request-id')!)
  const b = await debitOf(gw, stream.response.headers.get('x-request-id')!)
  t.ok(a && b, 'both requests were debited')
  // 24 plain input tokens at $3/M, 16 cached at $0.30/M, 12 output at $15/M.
  const expected = costOf(24, parsePricePerMillion('3')) + costOf(16, parsePricePerMillion('0.3')) + costOf(12, parsePricePerMillion('15'))
  const market = costOf(24, parsePricePerMillion('5')) + costOf(16, parsePricePerMillion('0.5')) + costOf(12, parsePricePerMillion('20'))
  t.equal(a!.cost, expected, 'the non-streamed request is debited at the model price')
  t.equal(b!.cost, a!.cost, 'the streamed request is debited the same amount')
  t.equal(a!.cachedReadTokens, 16)
  t.equal(a!.marketCost, market, 'the market rate is recorded')
  t.equal(a!.savings, market - expected, 'savings = market − cost')
  t.equal(b!.streaming, true)
  await assertLedgerInvariant(t, gw)
})

t.test('an aborted stream is billed more than zero and no more than its reservation', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  const pieces = Array.from({ length: 200 }, (_, i) => `word${i} `)
  fake.setScript(() => ({ pieces, text: pieces.join(''), delayMs: 15, usage: { promptTokens: 20, completionTokens: 200 } }))
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  await buyCredits(gw, gw.organizationId, 10n ** 12n)
  const before = await gw.services.get(billingLedgerRef).balance({ organizationId: gw.organizationId })
  const prompt = 'Write a very long story.'
  const reservation = maxCostFor(gw, prompt, 500)

  const abort = new AbortController()
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, max_tokens: 500, stream: true, messages: [{ role: 'user', content: prompt }] }),
    signal: abort.signal,
  })
  t.equal(res.status, 200)
  const requestId = res.headers.get('x-request-id')!
  const reader = res.body!.getReader()
  let received = ''
  while (!received.includes('word5 ')) received += new TextDecoder().decode((await reader.read()).value)
  abort.abort()
  await reader.cancel().catch(() => undefined)
  await fake.waitFor(() => fake.stats.openStreams === 0, 5_000)

  await settleAll(gw)
  const debit = await debitOf(gw, requestId)
  t.ok(debit, 'the aborted stream was debited')
  const billed = debit?.cost ?? 0n
  t.ok(billed > 0n, `billed more than zero (${billed})`)
  t.ok(billed <= reservation, `billed no more than its reservation (${billed} ≤ ${reservation})`)
  t.equal(debit?.estimated, true, 'the usage of a cut stream is estimated from what was sent')
  t.equal(await gw.services.get(billingLedgerRef).balance({ organizationId: gw.organizationId }), before - billed)
  await assertLedgerInvariant(t, gw)
})
