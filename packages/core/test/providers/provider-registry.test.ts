import t from 'tap'
import { Agent } from 'undici'
import { AnthropicProvider } from '../../src/providers/anthropic-provider.js'
import { MockProvider } from '../../src/providers/mock-provider.js'
import { OpenAIProvider } from '../../src/providers/openai-provider.js'
import type { ProviderAdapter, ProviderConfig } from '../../src/providers/provider.js'
import { ProviderRegistry } from '../../src/providers/provider-registry.js'
import { startFakeOpenAI } from '../support/fake-openai.js'
import { callJson, openAIRequest, upstreamCall } from './helpers.js'

t.test('builds one adapter per configured provider and always adds mock', async (t) => {
  const registry = new ProviderRegistry([
    { id: 'openai', kind: 'openai', apiKey: 'k' },
    { id: 'azure-eu', kind: 'openai', baseUrl: 'https://example.invalid/openai/v1' },
    { id: 'claude', kind: 'anthropic' },
  ])
  t.teardown(() => registry.close())
  t.same(
    registry.list().map((a) => [a.config.id, a.protocol]),
    [
      ['openai', 'openai'],
      ['azure-eu', 'openai'],
      ['claude', 'anthropic'],
      ['mock', 'openai'],
    ],
  )
  t.ok(registry.get('openai') instanceof OpenAIProvider)
  t.ok(registry.get('claude') instanceof AnthropicProvider)
  t.ok(registry.get('mock') instanceof MockProvider)
  t.equal(registry.get('mock')?.config.kind, 'mock')
  t.equal(registry.get('nope'), undefined)
})

t.test('a configured mock is kept, not duplicated', async (t) => {
  const registry = new ProviderRegistry([{ id: 'mock', kind: 'mock', headers: { a: 'b' } }])
  t.equal(registry.list().length, 1)
  t.same(registry.get('mock')?.config.headers, { a: 'b' })
})

t.test('duplicate ids and unknown kinds are startup errors', async (t) => {
  t.throws(() => new ProviderRegistry([
    { id: 'x', kind: 'openai' },
    { id: 'x', kind: 'anthropic' },
  ]), /configured twice/)
  t.throws(() => new ProviderRegistry([{ id: 'y', kind: 'bedrock' as ProviderConfig['kind'] }]), /unknown kind "bedrock"/)
})

t.test('custom factories add or replace adapters by kind', async (t) => {
  const seen: ProviderConfig[] = []
  const custom = (config: ProviderConfig): ProviderAdapter => {
    seen.push(config)
    return { config, protocol: 'openai', call: async () => Promise.reject(new Error('unused')), close: async () => {} }
  }
  const registry = new ProviderRegistry([{ id: 'o', kind: 'openai' }], { factories: { openai: custom } })
  t.equal(registry.get('o')?.config, seen[0])
  t.notOk(registry.get('o') instanceof OpenAIProvider)
})

t.test('a shared dispatcher is used by every adapter and is not closed by the registry', async (t) => {
  const fake = await startFakeOpenAI()
  const agent = new Agent()
  t.teardown(async () => {
    await agent.close()
    await fake.close()
  })
  const registry = new ProviderRegistry([{ id: 'openai', kind: 'openai', baseUrl: fake.baseUrl }], { dispatcher: agent })
  const result = await callJson(registry.get('openai') as ProviderAdapter, upstreamCall(openAIRequest()).call)
  t.equal(result.status, 200)
  await registry.close()
  t.notOk(agent.closed, 'the caller owns the dispatcher')
  const again = await callJson(registry.get('openai') as ProviderAdapter, upstreamCall(openAIRequest()).call)
  t.equal(again.status, 200)
})
