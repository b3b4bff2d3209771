import Anthropic from '@anthropic-ai/sdk'
import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { openAIErrorReply, startFakeOpenAI } from '../support/fake-openai.ts'
import { chat, usageRecorder } from './helpers.ts'

/**
 * Provider compliance policies: providers and deployments carry attributes, an organization or
 * project requires a set, and nothing that does not qualify is ever called — not first, not on
 * fallback, not when it is the only healthy deployment.
 */

const certified = await startFakeOpenAI()
const cheap = await startFakeOpenAI()
const gw = await createTestGateway({
  config: {
    providers: [
      { id: 'certified', kind: 'openai', baseUrl: certified.baseUrl, apiKey: 'sk-1', attributes: ['soc2', 'iso27001', 'gdpr'], region: 'eu-west-1' },
      { id: 'cheap', kind: 'openai', baseUrl: cheap.baseUrl, apiKey: 'sk-2', attributes: ['soc2'], region: 'us-east-1' },
    ],
    models: [{ name: 'chat', provider: 'certified', prices: { input: '1', output: '1' } }],
    routing: {
      policy: { providerOrder: ['certified', 'cheap'], loadBalancing: 'ordered', retry: { maxAttempts: 3, initialBackoffMs: 10 }, circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 } },
      deployments: [
        // The deployment adds what its provider lacks: no training on prompts.
        { id: 'chat-certified', model: 'chat', provider: 'certified', attributes: ['noTraining'] },
        { id: 'chat-cheap', model: 'chat', provider: 'cheap' },
      ],
    },
  },
})
const url = await gw.listen({ port: 0 })
t.teardown(async () => {
  await gw.close()
  await certified.close()
  await cheap.close()
})
const usage = usageRecorder(gw)
const anthropic = new Anthropic({ apiKey: gw.apiKey, baseURL: url, maxRetries: 0 })
const actor = { userId: gw.userId, role: 'owner' as const }

t.beforeEach(async () => {
  gw.routing.health.reset()
  certified.setScript(() => ({}))
  cheap.setScript(() => ({}))
  certified.requests.length = 0
  cheap.requests.length = 0
  await gw.routing.deletePolicy('organization', gw.organizationId, gw.organizationId, actor)
  await gw.routing.deletePolicy('project', gw.projectId, gw.organizationId, actor)
})

t.test('without a policy, a failing provider falls back to any other', async (t) => {
  certified.setScript(() => openAIErrorReply(500))
  const res = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 200)
  t.equal(cheap.requests.length, 1)
})

t.test('a compliance policy refuses a non-qualifying provider even when it is the only healthy one', async (t) => {
  await gw.routing.putPolicy('organization', gw.organizationId, gw.organizationId, { compliance: { require: ['gdpr', 'noTraining'] } }, actor)
  certified.setScript(() => openAIErrorReply(503))
  const res = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'only the healthy one is left' }] })
  t.equal(res.status, 502, 'the qualifying provider’s failure is what the client sees')
  t.equal(res.json.error.code, 'TOLLGATE_ERR_UPSTREAM_ERROR')
  t.equal(certified.requests.length, 2, 'retries stay on the qualifying deployment until its circuit opens (threshold 2)')
  t.equal(cheap.requests.length, 0, 'the non-qualifying provider is never called, not even on fallback')
  const event = await usage.for(res.requestId)
  t.ok(event.failedAttempts?.every((a) => a.provider === 'certified'))

  // Its circuit is now open (threshold 2) and the only healthy deployment does not qualify:
  // the qualifying one is still what is tried (panic routing), never the other.
  const again = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'and now?' }] })
  t.equal(again.status, 502)
  t.equal(certified.requests.length, 3)
  t.equal(cheap.requests.length, 0, 'still never the non-qualifying provider')
  // Once it is disabled, the only deployment left does not qualify: a clear refusal.
  await gw.routing.putDeployment({ id: 'chat-certified', model: 'chat', provider: 'certified', upstreamModel: 'chat', weight: 1, priority: 0, attributes: ['noTraining'], limits: {}, enabled: false }, actor)
  t.teardown(() => gw.routing.putDeployment({ id: 'chat-certified', model: 'chat', provider: 'certified', upstreamModel: 'chat', weight: 1, priority: 0, attributes: ['noTraining'], limits: {}, enabled: true }, actor))
  const refused = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'and now?' }] })
  t.equal(refused.status, 403)
  t.equal(refused.json.error.code, 'TOLLGATE_ERR_ROUTING_COMPLIANCE')
  t.match(refused.json.error.message, /chat-cheap \(cheap\): does not meet the compliance policy, missing gdpr, noTraining/)
  t.equal(cheap.requests.length, 0)
})

t.test('when nothing qualifies the error names the missing attributes, in the client’s format', async (t) => {
  await gw.routing.putPolicy('organization', gw.organizationId, gw.organizationId, { compliance: { require: ['soc2'] } }, actor)
  // The project adds requirements; it cannot drop the organization’s.
  await gw.routing.putPolicy('project', gw.projectId, gw.organizationId, { compliance: { require: ['noPromptLogging'] } }, actor)
  const res = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 403)
  t.equal(res.json.error.code, 'TOLLGATE_ERR_ROUTING_COMPLIANCE')
  t.equal(res.json.error.type, 'permission_error')
  t.match(res.json.error.message, /missing: noPromptLogging/)
  t.match(res.json.error.message, /chat-certified \(certified\).*chat-cheap \(cheap\)/)
  const err = await anthropic.messages.create({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e)
  t.equal(err.status, 403)
  t.equal(err.error?.error?.type, 'permission_error')
  t.equal(err.error?.error?.code, 'TOLLGATE_ERR_ROUTING_COMPLIANCE')
  t.equal(certified.requests.length + cheap.requests.length, 0, 'nothing was called')
})

t.test('region requirements and region pinning', async (t) => {
  await gw.routing.putPolicy('project', gw.projectId, gw.organizationId, { compliance: { regions: ['eu'] } }, actor)
  certified.setScript(() => openAIErrorReply(500))
  const res = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'eu only' }] })
  t.equal(res.status, 502)
  t.equal(cheap.requests.length, 0, 'a us deployment never serves an eu-only project')

  gw.routing.health.reset()
  certified.setScript(() => ({}))
  await gw.routing.putPolicy('project', gw.projectId, gw.organizationId, { regions: ['us'] }, actor)
  const pinned = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'us please' }] })
  t.equal(pinned.status, 200)
  t.equal(cheap.requests.length, 1, 'pinned to the us deployment')
  await gw.routing.putPolicy('project', gw.projectId, gw.organizationId, { regions: ['ap'] }, actor)
  const none = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'asia' }] })
  t.equal(none.status, 503)
  t.equal(none.json.error.code, 'TOLLGATE_ERR_ROUTING_NO_DEPLOYMENT')
  t.match(none.json.error.message, /outside the pinned regions/)
})
