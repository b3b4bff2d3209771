import Anthropic from '@anthropic-ai/sdk'
import pino from 'pino'
import t from 'tap'
import { createGateway } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { startFakeOpenAI } from '../support/fake-openai.ts'
import { awayFromMinuteBoundary, chat } from './helpers.ts'

/**
 * Rate limits per API key, per project, per provider and per deployment (requests and tokens per
 * minute), answered 429 with Retry-After in the client's error format, and held across two
 * gateway instances sharing one PostgreSQL database.
 */

const a = await startFakeOpenAI()
const b = await startFakeOpenAI()
t.teardown(async () => {
  await a.close()
  await b.close()
})
const limitedConfig = {
  providers: [
    { id: 'a', kind: 'openai' as const, baseUrl: a.baseUrl, apiKey: 'sk-a' },
    { id: 'b', kind: 'openai' as const, baseUrl: b.baseUrl, apiKey: 'sk-b', limits: { rpm: 1000 } },
  ],
  models: [{ name: 'chat', provider: 'a', prices: { input: '1', output: '1' } }],
  routing: {
    policy: { providerOrder: ['a', 'b'], loadBalancing: 'ordered' as const },
    deployments: [
      { id: 'chat-a', model: 'chat', provider: 'a', limits: { rpm: 2 } },
      { id: 'chat-b', model: 'chat', provider: 'b', limits: { rpm: 2 } },
    ],
    refreshMs: 200,
  },
}
/** The same without deployment limits. */
const config = { ...limitedConfig, routing: { ...limitedConfig.routing, deployments: limitedConfig.routing.deployments.map((d) => ({ ...d, limits: {} })) } }
const actor = (gw: { userId: string }) => ({ userId: gw.userId, role: 'owner' as const })

t.test('API key and project limits answer 429 with Retry-After in each client format', async (t) => {
  const gw = await createTestGateway({ config })
  const url = await gw.listen({ port: 0 })
  t.teardown(() => gw.close())
  await awayFromMinuteBoundary()
  await gw.routing.putPolicy('project', gw.projectId, gw.organizationId, { limits: { apiKey: { rpm: 3 } } }, actor(gw))
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push((await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: `n${i}` }] })).status)
  t.same(statuses, [200, 200, 200])
  const limited = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'one too many' }] })
  t.equal(limited.status, 429)
  t.equal(limited.json.error.code, 'TOLLGATE_ERR_RATELIMIT_API_KEY')
  t.equal(limited.json.error.type, 'rate_limit_error')
  const retryAfter = Number(limited.headers.get('retry-after'))
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After until the window ends (${retryAfter})`)
  const anthropic = new Anthropic({ apiKey: gw.apiKey, baseURL: url, maxRetries: 0 })
  const aerr = await anthropic.messages.create({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
  t.type(aerr, Anthropic.RateLimitError)
  t.equal(aerr.error?.error?.code, 'TOLLGATE_ERR_RATELIMIT_API_KEY')
  t.ok(Number(aerr.headers.get('retry-after')) >= 1)

  // Another key of the same project has its own allowance; the project limit is shared.
  const secondKey = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: gw.userId, name: 'second' })
  const second = secondKey.secret
  t.equal((await chat(url, second, { model: 'chat', messages: [{ role: 'user', content: 'fresh key' }] })).status, 200)
  // A limit for that particular key replaces the per-key default.
  await gw.routing.putPolicy('project', gw.projectId, gw.organizationId, { limits: { apiKey: { rpm: 3 }, apiKeys: { [secondKey.id]: { rpm: 2 } } } }, actor(gw))
  t.equal((await chat(url, second, { model: 'chat', messages: [{ role: 'user', content: 'second' }] })).status, 200)
  const own = await chat(url, second, { model: 'chat', messages: [{ role: 'user', content: 'third' }] })
  t.equal(own.status, 429, 'the key’s own limit of 2 applies')
  t.equal(own.json.error.code, 'TOLLGATE_ERR_RATELIMIT_API_KEY')
  await gw.routing.putPolicy('project', gw.projectId, gw.organizationId, { limits: { project: { tpm: 60 } } }, actor(gw))
  a.setScript(() => ({ usage: { promptTokens: 40, completionTokens: 30 } }))
  b.setScript(() => ({ usage: { promptTokens: 40, completionTokens: 30 } }))
  t.teardown(() => {
    a.setScript(() => ({}))
    b.setScript(() => ({}))
  })
  const first = await chat(url, second, { model: 'chat', messages: [{ role: 'user', content: 'tokens' }] })
  t.equal(first.status, 200, 'the estimate fits: served')
  const over = await chat(url, second, { model: 'chat', messages: [{ role: 'user', content: 'tokens' }] })
  t.equal(over.status, 429, 'the 70 tokens actually used count against the 60 per minute')
  t.equal(over.json.error.code, 'TOLLGATE_ERR_RATELIMIT_PROJECT')
  t.match(over.json.error.message, /tokens per minute/)
})

t.test('a deployment at its limit is skipped for the next; all at their limits → 429', async (t) => {
  const gw = await createTestGateway({ config: limitedConfig })
  const url = await gw.listen({ port: 0 })
  t.teardown(() => gw.close())
  await awayFromMinuteBoundary()
  a.requests.length = 0
  b.requests.length = 0
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: `n${i}` }] })).status)
  t.same(statuses, [200, 200, 200, 200, 429])
  t.equal(a.requests.length, 2, 'a served its 2 per minute')
  t.equal(b.requests.length, 2, 'then b served its 2')
  const last = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'x' }] })
  t.equal(last.json.error.code, 'TOLLGATE_ERR_RATELIMIT_PROVIDER')
  t.ok(Number(last.headers.get('retry-after')) >= 1)
})

t.test('rate limits hold across two instances sharing one PostgreSQL database', { skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL (PGlite is one process)' }, async (t) => {
  const one = await createTestGateway({ config: limitedConfig })
  t.teardown(() => one.close())
  const two = await createGateway({ ...limitedConfig, logger: pino({ level: 'silent' }), database: one.testDb.options, security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64') } })
  t.teardown(() => two.close())
  const [u1, u2] = [await one.listen({ port: 0 }), await two.listen({ port: 0 })]
  await one.routing.putPolicy('project', one.projectId, one.organizationId, { limits: { apiKey: { rpm: 7 } } }, actor(one))
  await two.routing.table.reload()
  await awayFromMinuteBoundary(8000)
  a.requests.length = 0
  b.requests.length = 0
  // 16 requests, half on each instance, all at once: the key's 7 per minute hold in total.
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => chat(i % 2 ? u2 : u1, one.apiKey, { model: 'chat', messages: [{ role: 'user', content: `c${i}` }] })))
  const ok = results.filter((r) => r.status === 200).length
  const limited = results.filter((r) => r.status === 429)
  t.equal(ok, 4, 'the deployments (2 + 2 per minute, shared) bound the successes')
  t.equal(ok + limited.length, 16)
  t.equal(a.requests.length + b.requests.length, 4, 'the providers saw exactly their limits across both instances')
  const keyLimited = limited.filter((r) => r.json.error.code === 'TOLLGATE_ERR_RATELIMIT_API_KEY').length
  t.equal(keyLimited, 16 - 7, 'the key limit let 7 through across both instances')
  for (const r of limited) t.ok(Number(r.headers.get('retry-after')) >= 1)
})
