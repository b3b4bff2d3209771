import t from 'tap'
import { Registry } from 'prom-client'
import { SeriesCounter, SeriesHistogram } from '../../src/observability/series.js'

const BUCKETS = [0.001, 0.01, 0.1]

function histogram(): SeriesHistogram {
  return new SeriesHistogram('tollgate_test_seconds', 'A test histogram.', ['plugin', 'hook'], BUCKETS)
}

async function exposition(h: SeriesHistogram | SeriesCounter): Promise<string> {
  const registry = new Registry()
  registry.registerMetric(h as never)
  return registry.metrics()
}

t.test('a child records into the same series as observe() with its label values', async (t) => {
  const byValues = histogram()
  const byChild = histogram()
  const child = byChild.child(['audit', 'onResponseChunk'])
  for (const v of [0.0005, 0.005, 0.05, 0.5, 0.005]) {
    byValues.observe(['audit', 'onResponseChunk'], v)
    child.observe(v)
  }
  const text = await exposition(byChild)
  t.equal(text, await exposition(byValues), 'the same exposition')
  t.match(text, /tollgate_test_seconds_bucket\{plugin="audit",hook="onResponseChunk",le="0.01"\} 3/)
  t.match(text, /tollgate_test_seconds_count\{plugin="audit",hook="onResponseChunk"\} 5/)
})

t.test('a child adds no series before its first observation, and finds its series again after a reset', async (t) => {
  const h = histogram()
  const child = h.child(['billing', 'beforeUpstream'])
  t.notMatch(await exposition(h), /billing/, 'an unused child is not exposed')
  child.observe(0.002)
  child.observe(0.002)
  t.match(await exposition(h), /tollgate_test_seconds_count\{plugin="billing",hook="beforeUpstream"\} 2/)
  h.reset()
  t.notMatch(await exposition(h), /billing/, 'reset empties the histogram')
  child.observe(0.2)
  const after = await exposition(h)
  t.match(after, /tollgate_test_seconds_count\{plugin="billing",hook="beforeUpstream"\} 1/, 'the child counts from zero again')
  t.match(after, /tollgate_test_seconds_bucket\{plugin="billing",hook="beforeUpstream",le="\+Inf"\} 1/)
})

t.test('a counter child adds into the same series as inc() with its label values, and counts from zero after a reset', async (t) => {
  const byValues = new SeriesCounter('tollgate_test_total', 'A test counter.', ['provider', 'model'])
  const byChild = new SeriesCounter('tollgate_test_total', 'A test counter.', ['provider', 'model'])
  const child = byChild.child(['openai', 'gpt-test'])
  t.notMatch(await exposition(byChild), /openai/, 'an unused child is not exposed')
  for (const by of [1, 5, 2]) {
    byValues.inc(['openai', 'gpt-test'], by)
    child.inc(by)
  }
  child.inc()
  byValues.inc(['openai', 'gpt-test'])
  const text = await exposition(byChild)
  t.equal(text, await exposition(byValues), 'the same exposition')
  t.match(text, /tollgate_test_total\{provider="openai",model="gpt-test"\} 9/)
  byChild.reset()
  child.inc(3)
  t.match(await exposition(byChild), /tollgate_test_total\{provider="openai",model="gpt-test"\} 3\n/)
})
