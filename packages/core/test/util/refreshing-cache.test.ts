import t from 'tap'
import { RefreshingCache } from '../../src/util/refreshing-cache.js'

/** A source whose values can be changed, recording every batch it is asked for. */
function source(initial: Record<string, number>) {
  const values = new Map(Object.entries(initial))
  const calls: string[][] = []
  let failing = false
  let gate: Promise<void> | undefined
  return {
    values,
    calls,
    fail: (on: boolean) => {
      failing = on
    },
    hold: () => {
      let open!: () => void
      gate = new Promise((r) => (open = r))
      return () => {
        gate = undefined
        open()
      }
    },
    loadMany: async (keys: readonly string[]) => {
      calls.push([...keys])
      if (gate) await gate
      if (failing) throw new Error('source down')
      return keys.map((k) => values.get(k) ?? null)
    },
  }
}

t.test('every key in use is re-read in one batch, and the cached value is served meanwhile', async (t) => {
  const s = source({ a: 1, b: 2, c: 3 })
  const cache = new RefreshingCache({ ttlMs: 60_000, loadMany: s.loadMany })
  t.teardown(() => cache.close())
  t.equal(await cache.get('a'), 1)
  t.equal(await cache.get('b'), 2)
  t.equal(await cache.get('c'), 3)
  t.equal(s.calls.length, 3, 'one read per first miss')
  s.values.set('a', 10)
  s.values.set('c', 30)
  t.equal(cache.peek('a'), 1, 'a fresh value is served from memory')
  // Half a TTL later every entry in use is due: one query re-reads them all.
  const later = Date.now() + 31_000
  const realNow = Date.now
  Date.now = () => later
  t.teardown(() => {
    Date.now = realNow
  })
  const release = s.hold()
  const refreshing = cache.refresh()
  t.equal(cache.peek('a'), 1, 'the old value is served while the re-read runs')
  release()
  await refreshing
  t.same(s.calls.at(-1), ['a', 'b', 'c'], 'one batch holds every key in use')
  t.equal(s.calls.length, 4)
  t.equal(cache.peek('a'), 10)
  t.equal(cache.peek('c'), 30)
})

t.test('entries nobody used for maxAgeMs are dropped, not re-read', async (t) => {
  const s = source({ a: 1, b: 2 })
  const cache = new RefreshingCache({ ttlMs: 1_000, maxAgeMs: 3_000, loadMany: s.loadMany })
  t.teardown(() => cache.close())
  await cache.get('a')
  await cache.get('b')
  const realNow = Date.now
  const start = realNow()
  t.teardown(() => {
    Date.now = realNow
  })
  // b is used two seconds in; a is never used again.
  Date.now = () => start + 2_000
  t.equal(cache.peek('b', start + 2_000), 2)
  Date.now = () => start + 3_500
  await cache.refresh()
  t.same(s.calls.at(-1), ['b'], 'only the entry in use is re-read')
  t.equal(cache.size, 1, 'the unused entry is gone')
  t.equal(cache.peek('a', start + 3_500), undefined)
})

t.test('a value whose re-reads fail is served until maxAgeMs, then the caller reads it', async (t) => {
  const s = source({ a: 1 })
  const errors: unknown[] = []
  const cache = new RefreshingCache({ ttlMs: 1_000, maxAgeMs: 3_000, loadMany: s.loadMany, onRefreshError: (err) => errors.push(err) })
  t.teardown(() => cache.close())
  await cache.get('a')
  const realNow = Date.now
  const start = realNow()
  t.teardown(() => {
    Date.now = realNow
  })
  s.fail(true)
  Date.now = () => start + 1_000
  t.equal(cache.peek('a', start + 1_000), 1)
  await cache.refresh()
  t.equal(errors.length, 1, 'the failed re-read is reported')
  t.equal(cache.peek('a', start + 2_900), 1, 'still served before maxAgeMs')
  t.equal(cache.peek('a', start + 3_000), undefined, 'not served once maxAgeMs old')
  Date.now = () => start + 3_000
  await t.rejects(Promise.resolve(cache.get('a')), /source down/, 'the caller now waits for a read, which fails')
  s.fail(false)
  s.values.set('a', 5)
  t.equal(await cache.get('a'), 5)
})

t.test('concurrent misses share one read; clear() and set() win over reads in flight', async (t) => {
  const s = source({ a: 1 })
  const cache = new RefreshingCache({ ttlMs: 60_000, loadMany: s.loadMany })
  t.teardown(() => cache.close())
  const reads = await Promise.all(Array.from({ length: 50 }, () => cache.get('a')))
  t.ok(reads.every((v) => v === 1))
  t.equal(s.calls.length, 1, 'one read for 50 concurrent misses')

  // A read that started before clear() answers its caller but is not kept.
  const release = s.hold()
  const inFlight = cache.get('b')
  cache.clear()
  release()
  t.equal(await inFlight, null)
  t.equal(cache.peek('b'), undefined, 'not cached after clear()')

  // A re-read that started before set() does not overwrite the newer value.
  await cache.get('a')
  const realNow = Date.now
  const later = realNow() + 31_000
  Date.now = () => later
  t.teardown(() => {
    Date.now = realNow
  })
  const hold = s.hold()
  const refreshing = cache.refresh()
  cache.set('a', 42)
  hold()
  await refreshing
  t.equal(cache.peek('a'), 42, 'the value set during the re-read stands')
})

t.test('reload() reads now and its answer replaces an older read in flight', async (t) => {
  const s = source({ a: 1 })
  const cache = new RefreshingCache({ ttlMs: 60_000, loadMany: s.loadMany })
  t.teardown(() => cache.close())
  const release = s.hold()
  const old = cache.get('a')
  release()
  s.values.set('a', 2)
  const fresh = await cache.reload('a', async () => 3)
  await old
  t.equal(fresh, 3)
  t.equal(cache.peek('a'), 3, 'the reload is what stays cached')
})

t.test('a TTL of 0 caches nothing', async (t) => {
  const s = source({ a: 1 })
  const cache = new RefreshingCache({ ttlMs: 0, loadMany: s.loadMany })
  t.teardown(() => cache.close())
  t.equal(await cache.get('a'), 1)
  t.equal(await cache.get('a'), 1)
  t.equal(s.calls.length, 2, 'every get reads the source')
  t.equal(cache.size, 0)
})
