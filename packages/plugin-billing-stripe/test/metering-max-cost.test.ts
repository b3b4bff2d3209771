import t from 'tap'
import { type CanonicalRequest, modelFromConfig } from '@tollgate/core'
import { inputTokensBound, maxCostOf } from '@tollgate/plugin-billing-stripe'

const req = (text: string, maxTokens?: number): CanonicalRequest => ({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text }] }], ...(maxTokens ? { maxTokens } : {}), stream: false, includeUsage: false, protocol: 'openai', extra: {} })

t.test("the maximum cost: input bound at the dearest input price, output from max_tokens or the model's limit", async (t) => {
  const model = modelFromConfig({ name: 'm', provider: 'p', prices: { input: '3', output: '15', cachedRead: '0.3', cacheWrite: '3.75' }, maxOutputTokens: 8192, contextWindow: 200_000 })
  t.equal(model.maxOutputTokens, 8192, 'core carries the output limit from the config')
  // "héllo" is 6 UTF-8 bytes: a byte-level tokenizer cannot make more than 6 tokens of it.
  t.equal(inputTokensBound(req('héllo')), 3 + 4 + 6)
  const withMax = maxCostOf(model, req('héllo', 100), 4096)
  t.same({ i: withMax.inputTokens, o: withMax.outputTokens }, { i: 13, o: 100 })
  t.equal(withMax.amount, 13n * 3_750_000n + 100n * 15_000_000n, 'input at the cache-write price (the dearest), output at its price')
  t.equal(maxCostOf(model, req('héllo'), 4096).outputTokens, 8192, "no max_tokens: the model's output limit")
  t.equal(maxCostOf(model, req('héllo', 100_000), 4096).outputTokens, 8192, 'max_tokens above the limit is clipped to it')
  const noLimit = modelFromConfig({ name: 'n', provider: 'p', prices: { input: '1', output: '1' }, contextWindow: 1000 })
  t.equal(maxCostOf(noLimit, req('hi'), 4096).outputTokens, 1000 - 9, 'no limit known: what the context window leaves')
  const nothing = modelFromConfig({ name: 'o', provider: 'p', prices: { input: '1', output: '1' } })
  t.equal(maxCostOf(nothing, req('hi'), 4096).outputTokens, 4096, 'nothing known: the configured fallback')
  const free = modelFromConfig({ name: 'f', provider: 'p' })
  t.equal(maxCostOf(free, req('hi', 10), 4096).amount, 0n, 'a free model reserves nothing')
})
