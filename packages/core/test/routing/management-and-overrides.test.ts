import OpenAI from 'openai'
import t from 'tap'
import type { EventMeta } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { startFakeOpenAI } from '../support/fake-openai.ts'
import { chat, usageRecorder } from './helpers.ts'

/**
 * Provider management and per-project routing overrides through the management API: every
 * change is authorized, takes effect at once on this instance, and emits its domain event with
 * before/after inside the write's transaction.
 */

const primary = await startFakeOpenAI({ apiKey: 'sk-primary-config' })
const secondary = await startFakeOpenAI()
const gw = await createTestGateway({
  config: {
    providers: [
      { id: 'primary', kind: 'openai', baseUrl: primary.baseUrl, apiKey: 'sk-primary-config' },
      { id: 'secondary', kind: 'openai', baseUrl: secondary.baseUrl, apiKey: 'sk-secondary' },
    ],
    models: [
      { name: 'chat', provider: 'primary', upstreamModel: 'up-chat', prices: { input: '1', output: '1' } },
      { name: 'pricey', provider: 'secondary', upstreamModel: 'up-pricey', prices: { input: '100', output: '1000' }, contextWindow: 200_000 },
    ],
    routing: { policy: { providerOrder: ['primary', 'secondary'], loadBalancing: 'ordered' } },
  },
})
const url = await gw.listen({ port: 0 })
t.teardown(async () => {
  await gw.close()
  await primary.close()
  await secondary.close()
})
const usage = usageRecorder(gw)
const seen: { name: string; payload: any; meta: EventMeta }[] = []
for (const name of ['provider.updated', 'deployment.updated', 'routingPolicy.updated', 'model.updated'] as const) {
  gw.events.on(name, (payload, meta) => void seen.push({ name, payload, meta }), { transactional: true })
}
// A platform administrator (its own organization) and the seeded owner of the test organization.
const adminUser = await gw.identity.createUser({ email: 'platform@example.test', platformAdmin: true })
const adminOrg = await gw.identity.createOrganization({ name: 'Platform', ownerUserId: adminUser.id })
const adminKey = (await gw.identity.createApiKey({ organizationId: adminOrg.id, projectId: adminOrg.defaultProjectId, ownerUserId: adminUser.id, name: 'admin' })).secret
const other = await gw.identity.createProject({ organizationId: gw.organizationId, name: 'experimental' })
const otherKey = (await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: other.id, ownerUserId: gw.userId, name: 'other' })).secret

async function api(key: string, method: string, path: string, body?: unknown) {
  const res = await gw.app.inject({ method: method as never, url: path, headers: { authorization: `Bearer ${key}`, 'user-agent': 'routing-test/1' }, ...(body === undefined ? {} : { payload: body as never }) })
  return { status: res.statusCode, json: res.body ? res.json() : undefined }
}

t.beforeEach(() => {
  primary.requests.length = 0
  secondary.requests.length = 0
  seen.length = 0
})

t.test('add a deployment, weight it, disable and re-enable it; each change is an audited event', async (t) => {
  const put = await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/chat-secondary', { provider: 'secondary', upstreamModel: 'up-chat-2', weight: 1, region: 'eu-west-1', attributes: ['gdpr'] })
  t.equal(put.status, 200, JSON.stringify(put.json))
  t.match(put.json, { id: 'chat-secondary', model: 'chat', provider: 'secondary', upstreamModel: 'up-chat-2', region: 'eu-west-1', implicit: false })
  t.equal(seen.length, 1)
  t.match(seen[0], { name: 'deployment.updated', payload: { model: 'chat', deploymentId: 'chat-secondary', before: undefined, after: { provider: 'secondary', weight: 1 } } })
  t.equal(seen[0].meta.actor?.type, 'api_key')
  t.equal(seen[0].meta.userAgent, 'routing-test/1')
  t.ok(seen[0].meta.em, 'emitted inside the transaction')

  // Once a model has deployments it is served by them only: the new one is its sole deployment.
  const res = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 200)
  t.equal(secondary.requests[0].body.model, 'up-chat-2')
  const list = await api(gw.apiKey, 'GET', '/v1/catalog/models/chat/deployments')
  t.same(list.json.data.map((d: any) => d.id), ['chat-secondary'])

  const disabled = await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/chat-secondary', { provider: 'secondary', upstreamModel: 'up-chat-2', enabled: false })
  t.equal(disabled.json.enabled, false)
  t.match(seen.at(-1)!.payload, { before: { enabled: true }, after: { enabled: false } })
  const off = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(off.status, 503)
  t.equal(off.json.error.code, 'TOLLGATE_ERR_MODEL_UNAVAILABLE')
  t.match(off.json.error.message, /chat-secondary \(secondary\): disabled/)

  t.equal((await api(gw.apiKey, 'PUT', '/v1/catalog/models/chat/deployments/x', { provider: 'secondary' })).status, 403, 'an organization owner is not a platform administrator')
  t.equal((await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/x', { provider: 'nope' })).json.error.field, 'provider')
  t.equal((await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/x', { provider: 'secondary', weight: -1 })).status, 400)
  t.equal((await api(adminKey, 'DELETE', '/v1/catalog/models/chat/deployments/chat-secondary')).status, 204)
  t.match(seen.at(-1)!, { name: 'deployment.updated', payload: { deploymentId: 'chat-secondary', after: undefined } })
  const back = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(back.status, 200, 'without deployments the model is served by its catalog provider again')
  t.equal(primary.requests.length, 1)
})

t.test('providers: disable, set the gateway key (stored encrypted), limits; never the secret in events', async (t) => {
  const off = await api(adminKey, 'PUT', '/v1/providers/primary', { enabled: false })
  t.equal(off.status, 200)
  t.match(off.json, { id: 'primary', enabled: false, source: 'config+database', hasKey: true })
  const refused = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(refused.status, 503, 'a disabled provider serves nothing')

  const keyed = await api(adminKey, 'PUT', '/v1/providers/primary', { enabled: true, apiKey: 'sk-rotated-0123456789', attributes: ['soc2'], limits: { rpm: 1000 } })
  t.match(keyed.json, { enabled: true, hasKey: true, keyHint: '…6789', attributes: ['soc2'], limits: { rpm: 1000 } })
  const ev = seen.at(-1)!
  t.equal(ev.name, 'provider.updated')
  t.notMatch(JSON.stringify(ev.payload), /sk-rotated/, 'the key never appears in the event')
  t.match(ev.payload, { before: { enabled: false }, after: { enabled: true, keyHint: '…6789' } })
  const [row] = await gw.db.orm.em.fork().execute<{ api_key_ciphertext: string }[]>("select api_key_ciphertext from core_provider where id = 'primary'", [], 'all')
  t.notMatch(row.api_key_ciphertext, /sk-rotated/, 'stored encrypted')
  // The fake accepts only the config key: the rotated key is what is sent now.
  const res = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 502)
  t.equal(res.json.error.code, 'TOLLGATE_ERR_UPSTREAM_AUTH')
  t.equal(primary.requests.at(-1)!.headers.authorization, 'Bearer sk-rotated-0123456789')

  const providers = await api(gw.apiKey, 'GET', '/v1/providers')
  t.equal(providers.status, 200)
  t.notOk(providers.json.data.find((p: any) => p.id === 'primary').keyHint, 'key hints only for platform administrators')
  t.equal((await api(adminKey, 'DELETE', '/v1/providers/primary')).status, 204)
  t.equal((await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).status, 200, 'back to the config key')
  t.equal((await api(adminKey, 'PUT', '/v1/providers/brand-new', { enabled: true })).json.error.field, 'kind')
  t.equal((await api(adminKey, 'PUT', '/v1/providers/primary', { headers: { Authorization: 'Bearer sk-oops' } })).json.error.field, 'headers.Authorization', 'no credentials in clear-text headers')
  t.equal((await api(gw.apiKey, 'PUT', '/v1/providers/primary', { enabled: false })).status, 403)
})

t.test('a provider defined at run time, and a deployment with its own base URL', async (t) => {
  const defined = await api(adminKey, 'PUT', '/v1/providers/runtime', { kind: 'openai', baseUrl: secondary.baseUrl, apiKey: 'sk-runtime-0123456789', region: 'eu-north-1' })
  t.equal(defined.status, 200, JSON.stringify(defined.json))
  t.match(defined.json, { id: 'runtime', kind: 'openai', source: 'database', region: 'eu-north-1', hasKey: true })
  await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/chat-runtime', { provider: 'runtime', upstreamModel: 'rt-model' })
  const res = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'runtime' }] })
  t.equal(res.status, 200)
  t.equal(secondary.requests.at(-1)!.headers.authorization, 'Bearer sk-runtime-0123456789')
  t.equal(secondary.requests.at(-1)!.body.model, 'rt-model')
  // A deployment of the config provider "primary" pointed at another endpoint keeps primary's key.
  await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/chat-runtime', { provider: 'primary', upstreamModel: 'regional', baseUrl: secondary.baseUrl })
  const regional = await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'regional' }] })
  t.equal(regional.status, 200)
  t.equal(secondary.requests.at(-1)!.body.model, 'regional')
  t.equal(secondary.requests.at(-1)!.headers.authorization, 'Bearer sk-primary-config')
  t.equal((await api(adminKey, 'DELETE', '/v1/catalog/models/chat/deployments/chat-runtime')).status, 204)
  t.equal((await api(adminKey, 'DELETE', '/v1/providers/runtime')).status, 204)
  t.notOk((await api(gw.apiKey, 'GET', '/v1/providers')).json.data.some((p: any) => p.id === 'runtime'), 'gone with its stored settings')
})

t.test('models: add, price and remove through the management API', async (t) => {
  const added = await api(adminKey, 'PUT', '/v1/catalog/models/fresh', { provider: 'primary', upstreamModel: 'up-fresh', prices: { input: '2', output: '4' } })
  t.equal(added.status, 200)
  primary.setScript(() => ({ usage: { promptTokens: 10, completionTokens: 5 } }))
  const res = await chat(url, gw.apiKey, { model: 'fresh', messages: [{ role: 'user', content: 'new model' }] })
  t.equal(res.status, 200)
  t.equal((await usage.for(res.requestId)).cost, 10n * 2_000_000n + 5n * 4_000_000n, 'billed at the price set through the API')
  await api(adminKey, 'PUT', '/v1/catalog/models/fresh', { provider: 'primary', upstreamModel: 'up-fresh', available: false, prices: { input: '2', output: '4' } })
  t.equal((await chat(url, gw.apiKey, { model: 'fresh', messages: [{ role: 'user', content: 'x' }] })).status, 503, 'unavailable')
  t.equal((await api(adminKey, 'DELETE', '/v1/catalog/models/fresh')).status, 204)
  t.equal((await chat(url, gw.apiKey, { model: 'fresh', messages: [{ role: 'user', content: 'x' }] })).status, 404, 'removed')
  primary.setScript(() => ({}))
})

t.test('a per-project override changes routing for that project only', async (t) => {
  await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/chat-p', { provider: 'primary', upstreamModel: 'up-chat' })
  await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/chat-s', { provider: 'secondary', upstreamModel: 'up-chat-s' })
  t.teardown(async () => {
    await api(adminKey, 'DELETE', '/v1/catalog/models/chat/deployments/chat-p')
    await api(adminKey, 'DELETE', '/v1/catalog/models/chat/deployments/chat-s')
  })
  const put = await api(gw.apiKey, 'PUT', `/v1/projects/${other.id}/routing-policy`, { providerOrder: ['secondary', 'primary'] })
  t.equal(put.status, 200, JSON.stringify(put.json))
  t.same(put.json.effective.providerOrder, ['secondary', 'primary'])
  t.match(seen.at(-1)!, { name: 'routingPolicy.updated', payload: { scope: 'project', projectId: other.id, organizationId: gw.organizationId, after: { providerOrder: ['secondary', 'primary'] } } })
  t.equal(seen.at(-1)!.meta.organizationId, gw.organizationId)

  for (let i = 0; i < 3; i++) {
    t.equal((await chat(url, otherKey, { model: 'chat', messages: [{ role: 'user', content: 'experimental' }] })).status, 200)
    t.equal((await chat(url, gw.apiKey, { model: 'chat', messages: [{ role: 'user', content: 'production' }] })).status, 200)
  }
  t.same(secondary.requests.map((r) => r.body.messages[0].content), ['experimental', 'experimental', 'experimental'], 'the overridden project goes to secondary')
  t.same(primary.requests.map((r) => r.body.messages[0].content), ['production', 'production', 'production'], 'every other project keeps the global order')

  const view = await api(gw.apiKey, 'GET', `/v1/projects/${gw.projectId}/routing-policy`)
  t.same(view.json.policy, {}, 'the default project has no override')
  t.same(view.json.effective.providerOrder, ['primary', 'secondary'])
  t.equal((await api(gw.apiKey, 'DELETE', `/v1/projects/${other.id}/routing-policy`)).status, 204)
  await chat(url, otherKey, { model: 'chat', messages: [{ role: 'user', content: 'after reset' }] })
  t.equal(primary.requests.at(-1)!.body.messages[0].content, 'after reset', 'removing the override restores the global routing')

  const bad = await api(gw.apiKey, 'PUT', `/v1/projects/${other.id}/routing-policy`, { fallbackModels: { chat: ['does-not-exist'] } })
  t.equal(bad.status, 400)
  t.equal(bad.json.error.field, 'fallbackModels.chat')
  const typo = await api(gw.apiKey, 'PUT', `/v1/projects/${other.id}/routing-policy`, { providerOrdr: ['x'] })
  t.equal(typo.status, 400)
  t.equal(typo.json.error.code, 'TOLLGATE_ERR_REQUEST_INVALID_BODY')
})

t.test('per-request cost ceiling, fallback models and own provider keys', async (t) => {
  await api(gw.apiKey, 'PUT', `/v1/projects/${other.id}/routing-policy`, { maxCostPerRequest: '0.01', fallbackModels: { pricey: ['chat'] } })
  t.teardown(() => api(gw.apiKey, 'DELETE', `/v1/projects/${other.id}/routing-policy`))
  // pricey: 100 $/M input, 1000 $/M output; 20 output tokens alone cost $0.02 > $0.01 → served by the fallback model.
  const res = await chat(url, otherKey, { model: 'pricey', max_tokens: 20, messages: [{ role: 'user', content: 'cheap please' }] })
  t.equal(res.status, 200)
  t.equal(primary.requests.length, 1, 'the fallback model under the ceiling serves it')
  const event = await usage.for(res.requestId)
  t.equal(event.model, 'chat', 'billed as the model that answered')
  await api(gw.apiKey, 'PUT', `/v1/projects/${other.id}/routing-policy`, { maxCostPerRequest: '0.01' })
  const over = await chat(url, otherKey, { model: 'pricey', max_tokens: 20, messages: [{ role: 'user', content: 'too much' }] })
  t.equal(over.status, 400)
  t.equal(over.json.error.code, 'TOLLGATE_ERR_ROUTING_COST_CEILING')
  t.equal(over.json.error.param, 'max_tokens')
  const unbounded = await chat(url, otherKey, { model: 'pricey', messages: [{ role: 'user', content: 'no max_tokens' }] })
  t.equal(unbounded.status, 400, 'without max_tokens the context window bounds the worst case')
  t.equal(secondary.requests.length, 0)

  // Own keys: the project brings a key for secondary; with preferOwnKeys it goes first.
  await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/own-p', { provider: 'primary', upstreamModel: 'up-chat' })
  await api(adminKey, 'PUT', '/v1/catalog/models/chat/deployments/own-s', { provider: 'secondary', upstreamModel: 'up-chat-s' })
  t.teardown(async () => {
    await api(adminKey, 'DELETE', '/v1/catalog/models/chat/deployments/own-p')
    await api(adminKey, 'DELETE', '/v1/catalog/models/chat/deployments/own-s')
  })
  await api(gw.apiKey, 'DELETE', `/v1/projects/${other.id}/routing-policy`)
  t.equal((await api(gw.apiKey, 'PUT', `/v1/projects/${other.id}/provider-keys/secondary`, { key: 'sk-own-secondary-key' })).status, 200)
  const own = await chat(url, otherKey, { model: 'chat', messages: [{ role: 'user', content: 'byok' }] })
  t.equal(own.status, 200)
  t.equal(secondary.requests.at(-1)!.headers.authorization, 'Bearer sk-own-secondary-key', 'the project’s own key, on the provider it is for')
  t.equal((await usage.for(own.requestId)).provider, 'secondary')
  await api(gw.apiKey, 'PUT', `/v1/projects/${other.id}/routing-policy`, { preferOwnKeys: false })
  const plain = await chat(url, otherKey, { model: 'chat', messages: [{ role: 'user', content: 'no preference' }] })
  t.equal(plain.status, 200)
  t.equal(primary.requests.at(-1)!.body.messages[0].content, 'no preference', 'without the preference the provider order applies')
})

t.test('organization admins set organization policy; members cannot', async (t) => {
  const member = await gw.identity.createUser({ email: 'member-routing@example.test' })
  await gw.identity.addMember({ organizationId: gw.organizationId, userId: member.id, role: 'member' })
  const memberKey = (await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: member.id, name: 'm' })).secret
  t.equal((await api(memberKey, 'PUT', `/v1/organizations/${gw.organizationId}/routing-policy`, { compliance: { require: ['soc2'] } })).status, 403)
  t.equal((await api(memberKey, 'PUT', `/v1/projects/${gw.projectId}/routing-policy`, { regions: ['eu'] })).status, 403)
  const ok = await api(gw.apiKey, 'PUT', `/v1/organizations/${gw.organizationId}/routing-policy`, { compliance: { require: ['soc2'] } })
  t.equal(ok.status, 200)
  t.match(ok.json.effective.compliance, [{ source: 'organization', require: ['soc2'] }])
  const got = await api(memberKey, 'GET', `/v1/organizations/${gw.organizationId}/routing-policy`)
  t.same(got.json.policy, { compliance: { require: ['soc2'] } })
  await api(gw.apiKey, 'DELETE', `/v1/organizations/${gw.organizationId}/routing-policy`)
  const global = await api(adminKey, 'PUT', '/v1/routing/policy', { retry: { maxAttempts: 2 }, circuitBreaker: { failureThreshold: 3 } })
  t.equal(global.status, 200)
  t.equal(global.json.effective.retry.maxAttempts, 2)
  t.same(global.json.policy.providerOrder, ['primary', 'secondary'], 'stored fields override the config field by field')
  t.equal((await api(gw.apiKey, 'PUT', `/v1/projects/${gw.projectId}/routing-policy`, { circuitBreaker: { failureThreshold: 3 } })).json.error.field, 'circuitBreaker')
  t.equal((await api(adminKey, 'DELETE', '/v1/routing/policy')).status, 204)
})

t.test('the openai SDK sees routing errors in its own shape', async (t) => {
  await api(gw.apiKey, 'PUT', `/v1/projects/${gw.projectId}/routing-policy`, { allowedProviders: ['nobody'] })
  t.teardown(() => api(gw.apiKey, 'DELETE', `/v1/projects/${gw.projectId}/routing-policy`))
  const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
  const err = await openai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
  t.equal(err.status, 503)
  t.equal(err.code, 'TOLLGATE_ERR_ROUTING_NO_DEPLOYMENT')
  t.match(err.message, /provider not allowed/)
})
