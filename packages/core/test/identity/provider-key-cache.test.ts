import t from 'tap'
import { ProviderKeyCache } from '../../src/identity/provider-key-cache.js'

function loader(data: Record<string, Record<string, string>>) {
  const calls: string[] = []
  const load = async (projectId: string) => {
    calls.push(projectId)
    const snapshot = new Map(Object.entries(data[projectId] ?? {}))
    await new Promise((r) => setTimeout(r, 5))
    return snapshot
  }
  return { calls, load }
}

t.test('one load per project per TTL, "no key" included', async (t) => {
  const { calls, load } = loader({ p1: { openai: 'sk-1' } })
  const cache = new ProviderKeyCache(load, { ttlMs: 60_000 })
  t.equal(await cache.get('p1', 'openai'), 'sk-1')
  t.equal(await cache.get('p1', 'anthropic'), undefined)
  for (let i = 0; i < 100; i++) t.equal(await cache.get('p2', 'openai'), undefined)
  t.same(calls, ['p1', 'p2'], 'hits and misses both come from memory after the first load')
})

t.test('concurrent misses share one load', async (t) => {
  const { calls, load } = loader({ p1: { openai: 'sk-1' } })
  const cache = new ProviderKeyCache(load)
  const all = await Promise.all(Array.from({ length: 50 }, () => cache.get('p1', 'openai')))
  t.ok(all.every((k) => k === 'sk-1'))
  t.same(calls, ['p1'])
})

t.test('invalidation and expiry reload', async (t) => {
  const data: Record<string, Record<string, string>> = { p1: {} }
  const { calls, load } = loader(data)
  const cache = new ProviderKeyCache(load, { ttlMs: 30 })
  t.equal(await cache.get('p1', 'openai'), undefined)
  data.p1 = { openai: 'sk-new' }
  t.equal(await cache.get('p1', 'openai'), undefined, 'cached until invalidated or expired')
  cache.invalidate('p1')
  t.equal(await cache.get('p1', 'openai'), 'sk-new')
  data.p1 = { openai: 'sk-newer' }
  await new Promise((r) => setTimeout(r, 40))
  t.equal(await cache.get('p1', 'openai'), 'sk-newer', 'expired entries reload')
  t.equal(calls.length, 3)
})

t.test('an invalidation during a load is not overwritten by the stale result', async (t) => {
  const data: Record<string, Record<string, string>> = { p1: { openai: 'old' } }
  const { load } = loader(data)
  const cache = new ProviderKeyCache(load, { ttlMs: 60_000 })
  const pending = cache.get('p1', 'openai')
  data.p1 = { openai: 'new' }
  cache.invalidate('p1')
  t.equal(await pending, 'old', 'the in-flight caller gets what was loaded')
  t.equal(await cache.get('p1', 'openai'), 'new', 'the next caller reloads')
})

t.test('a failed load is not cached', async (t) => {
  let fail = true
  const cache = new ProviderKeyCache(async () => {
    if (fail) throw new Error('db down')
    return new Map([['openai', 'sk-1']])
  })
  await t.rejects(cache.get('p1', 'openai'), /db down/)
  fail = false
  t.equal(await cache.get('p1', 'openai'), 'sk-1')
})
