import t from 'tap'
import { computeCost, modelFromConfig } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'

t.test('cost is exact in picodollars, with cached reads and cache writes at their own prices', async (t) => {
  const model = modelFromConfig({ name: 'm', provider: 'mock', prices: { input: '0.15', output: '0.6', cachedRead: '0.075', cacheWrite: '0.1875' }, marketPrices: { input: '0.3', output: '1.2' } })
  const cost = computeCost(model, { inputTokens: 1_000_003, outputTokens: 7, cachedReadTokens: 1_000_000, cacheWriteTokens: 2, estimated: false })
  // 1 plain input × 0.15 + 1e6 cached × 0.075 + 2 writes × 0.1875 + 7 × 0.6, in µ$ per M tokens = p$ per token
  t.equal(cost.cost, 150_000n + 1_000_000n * 75_000n + 2n * 187_500n + 7n * 600_000n)
  t.equal(cost.marketCost, 1_000_003n * 300_000n + 7n * 1_200_000n, 'market prices without cache prices bill cache at the input price')
  t.throws(() => modelFromConfig({ name: 'x', provider: 'mock', prices: { input: '0.1234567' } }), /more than 6 decimal places/)
  t.throws(() => modelFromConfig({ name: 'x', provider: 'mock', prices: { input: '1e-7' } }), /not a non-negative decimal/)
})

t.test('catalog writes run their onWritten step in the same transaction', async (t) => {
  const gw = await createTestGateway()
  t.teardown(() => gw.close())
  const model = modelFromConfig({ name: 'tx-model', provider: 'mock', prices: { input: '1', output: '1' } })
  await t.rejects(gw.catalog.upsert(model, { onWritten: async () => { throw new Error('audit refused') } }), /audit refused/)
  t.equal(gw.catalog.get('tx-model'), undefined, 'a failed step rolls the write back')
  let sawRow = false
  await gw.catalog.upsert(model, {
    onWritten: async (em) => {
      const rows = await em.execute<{ name: string }[]>('select name from core_model where name = ?', ['tx-model'], 'all')
      sawRow = rows.length === 1
    },
  })
  t.equal(sawRow, true, 'the step sees the write inside the transaction')
  t.equal(gw.catalog.get('tx-model')?.prices.input, 1_000_000n)
  t.equal(await gw.catalog.remove('tx-model'), true)
  t.equal(await gw.catalog.remove('tx-model'), false)
})
