import t from 'tap'
import OpenAI from 'openai'
import { createTestGateway } from '@tollgate/core/testing'
import { analyticsPlugin } from '@tollgate/plugin-analytics'
import { drainRollups } from '../support.ts'

/**
 * Real traffic: the openai SDK through the gateway (mock provider), rolled up by the plugin's
 * worker and read back through the analytics API; the figures must equal the raw usage events.
 */
const gw = await createTestGateway({ plugins: [analyticsPlugin({ rollup: { intervalMs: 3_600_000 } })] })
t.teardown(() => gw.close())
const url = await gw.listen({ port: 0 })
const client = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
const headers = { authorization: `Bearer ${gw.apiKey}` }

t.test('requests through the gateway show up in the analytics', async (t) => {
  for (let i = 0; i < 5; i++) {
    await client.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: `hello number ${i}` }] }, { headers: { 'x-tollgate-app': i < 3 ? 'chat-ui' : 'batch-job' } })
  }
  const stream = await client.chat.completions.create({ model: 'mock-echo', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream please' }] })
  for await (const _ of stream) {
  }
  await t.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }))
  await gw.usageWriter.flush()
  await drainRollups(gw)

  const [raw] = await gw.db.orm.em
    .fork()
    .execute<{ n: number; cost: string; market: string; input: string; output: string; errors: number }[]>(
      "select count(*)::int as n, sum(cost)::text as cost, sum(market_cost)::text as market, sum(input_tokens)::text as input, sum(output_tokens)::text as output, count(*) filter (where status >= 400 and status <> 499)::int as errors from core_usage_event",
      [],
      'all',
    )
  t.ok(raw.n >= 6, 'the requests were recorded')
  const summary = await gw.app.inject({ method: 'GET', url: `/analytics/summary?organizationId=${gw.organizationId}&window=1d`, headers })
  t.equal(summary.statusCode, 200, summary.statusCode === 200 ? 'summary answers 200' : summary.body)
  const totals = summary.json().totals
  t.equal(totals.requests, raw.n)
  t.equal(totals.errors, raw.errors)
  t.ok(totals.errors >= 1, 'the unknown model counted as an error')
  t.equal(totals.inputTokens, Number(raw.input))
  t.equal(totals.outputTokens, Number(raw.output))
  t.equal(totals.cost, formatPico(BigInt(raw.cost)))
  t.equal(totals.savings, formatPico(BigInt(raw.market) - BigInt(raw.cost)))

  const detail = await gw.app.inject({ method: 'GET', url: `/analytics/members/${gw.userId}?organizationId=${gw.organizationId}&window=1d`, headers })
  t.equal(detail.statusCode, 200, detail.statusCode === 200 ? 'detail answers 200' : detail.body)
  const d = detail.json()
  t.equal(d.topApp.app, 'chat-ui', 'the app header is the app dimension')
  t.equal(d.topModel.model, 'mock-echo')
  t.equal(d.keyCount, 1)

  const models = await gw.app.inject({ method: 'GET', url: `/analytics/models?organizationId=${gw.organizationId}&window=1d`, headers })
  t.equal(models.statusCode, 200, models.statusCode === 200 ? 'models answers 200' : models.body)
  const echo = models.json().data.find((m: { model: string }) => m.model === 'mock-echo')
  t.equal(echo.requests, 6)
  t.ok(echo.latencyMs.p50 !== null && echo.latencyMs.p99 >= echo.latencyMs.p50, 'latency percentiles from the histogram')
  t.equal(echo.ttftMs.count, 6, 'every request has a time to first byte')
  t.type(echo.costPer1kTokens, 'string')

  const key = (await gw.identity.listApiKeys(gw.organizationId))[0]
  const keyUsage = await gw.app.inject({ method: 'GET', url: `/v1/keys/${key.id}/usage?window=1d`, headers })
  t.equal(keyUsage.statusCode, 200, keyUsage.statusCode === 200 ? 'keyUsage answers 200' : keyUsage.body)
  t.equal(keyUsage.json().totals.requests, raw.n)
  const coreKey = await gw.app.inject({ method: 'GET', url: `/v1/keys/${key.id}`, headers })
  t.equal(coreKey.statusCode, 200, "core's own key route still answers beside the usage route")
})

/** Picodollars as USD, written out independently of the plugin's formatter. */
function formatPico(p: bigint): string {
  const neg = p < 0n
  const abs = neg ? -p : p
  const whole = abs / 10n ** 12n
  const frac = (abs % 10n ** 12n).toString().padStart(12, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`
}
