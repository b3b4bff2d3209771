import { canonicalJson, describeEvent, entryHash, MASK, maskSecrets } from '@tollgate/plugin-audit'
import canonicalize from 'canonicalize'
import t from 'tap'

t.test('canonical JSON: stable under key order and Unicode normalisation', async (t) => {
  const a = { b: 1, a: { y: [1, 'x'], x: 'Café' }, c: null }
  const b = { c: null, a: { x: 'Cafe\u0301', y: [1, 'x'] }, b: 1 }
  t.equal(canonicalJson(a), canonicalJson(b), 'same canonical form')
  t.equal(canonicalJson(a), '{"a":{"x":"Café","y":[1,"x"]},"b":1,"c":null}', 'RFC 8785 shape: sorted keys, no whitespace')
  t.not(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }), 'array order matters')
  t.equal(canonicalJson({ n: 2n ** 64n, big: 2 ** 60, f: 0.1, inf: Number.POSITIVE_INFINITY }), '{"big":"1152921504606846976","f":0.1,"inf":null,"n":"18446744073709551616"}', 'numbers that jsonb or JSON would mangle become strings')
  t.equal(canonicalJson({ s: 'a\u0000b', d: new Date('2026-01-02T03:04:05.678Z'), u: undefined }), '{"d":"2026-01-02T03:04:05.678Z","s":"a\uFFFDb"}')
  t.equal(canonicalJson({ 'e\u0301': 1 }), canonicalJson({ 'é': 1 }), 'keys are normalised too')
  t.equal(canonicalJson('a\ud83db'), '"a\uFFFDb"', 'a lone surrogate (which PostgreSQL refuses) is replaced')
})

t.test('canonical JSON equals the RFC 8785 reference implementation on random values', async (t) => {
  let seed = 7
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  const strings = ['', 'a', 'Café', 'Cafe\u0301', 'ü', '🚀', 'line\nbreak', 'quote"', 'tab\t', '\u2028', 'Zz', '€uro', 'ａ']
  const gen = (depth: number): unknown => {
    const r = rand()
    if (depth > 3 || r < 0.3) return strings[Math.floor(rand() * strings.length)]
    if (r < 0.4) return Math.floor(rand() * 1e6) - 5e5
    if (r < 0.45) return (rand() - 0.5) * 1e-3
    if (r < 0.5) return rand() * 1e6
    if (r < 0.55) return rand() < 0.5
    if (r < 0.6) return null
    if (r < 0.8) return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth + 1))
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [strings[Math.floor(rand() * strings.length)] + Math.floor(rand() * 3), gen(depth + 1)]))
  }
  const normalize = (v: unknown): unknown =>
    typeof v === 'string' ? v.normalize('NFC') : Array.isArray(v) ? v.map(normalize) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k.normalize('NFC'), normalize(x)])) : v
  let differing = 0
  for (let i = 0; i < 2000; i++) {
    const v = gen(0)
    if (canonicalJson(v) !== canonicalize(normalize(v))) differing++
  }
  t.equal(differing, 0, '2000 random values serialise exactly as the reference does')
})

t.test('entry hash: covers every field', async (t) => {
  const e: Parameters<typeof entryHash>[0] = {
    id: '6c0f7d0e-8f7b-4a64-9c3f-1f7d2b1c0a11',
    organizationId: '6c0f7d0e-8f7b-4a64-9c3f-1f7d2b1c0a12',
    seq: 3,
    occurredAt: new Date('2026-01-01T00:00:00.000Z'),
    event: 'project.created',
    actor: { type: 'user', id: 'u1' },
    action: 'project.created',
    resourceType: 'project',
    resourceId: 'p1',
    diff: null,
    details: { name: 'x' },
    ip: '10.0.0.1',
    userAgent: 'ua',
    prevHash: '0'.repeat(64),
  }
  const h = entryHash(e)
  t.match(h, /^[0-9a-f]{64}$/)
  const variants: Partial<typeof e>[] = [
    { seq: 4 }, { occurredAt: new Date('2026-01-01T00:00:00.001Z') }, { actor: { type: 'api_key', id: 'u1' } }, { action: 'project.deleted' },
    { resourceId: null }, { details: { name: 'y' } }, { ip: null }, { userAgent: 'ub' }, { prevHash: '1'.repeat(64) }, { id: '6c0f7d0e-8f7b-4a64-9c3f-1f7d2b1c0a13' },
  ]
  for (const v of variants) t.not(entryHash({ ...e, ...v }), h, `changing ${Object.keys(v)[0]} changes the hash`)
  t.equal(entryHash({ ...e, details: { name: 'x' } }), h, 'an equal entry hashes the same')
})

t.test('secrets are masked by key name and by value shape', async (t) => {
  const masked = maskSecrets({
    name: 'ok',
    password: 'hunter2',
    client_secret: 'abc',
    apiKeyId: 'id-stays',
    keyHint: '…abcd',
    nested: [{ accessToken: 't' }, { note: 'Authorization: Bearer abcdefghijklmnop' }],
    text: 'my key is sk-proj-abcdefghijklmnopqrstuvwxyz and tg-abcdefghijklmnopqrst',
    pem: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----',
    inputTokens: 12,
    empty: null,
    webhook: 'x',
  }, ['webhook'])
  t.same(masked, {
    name: 'ok',
    password: MASK,
    client_secret: MASK,
    apiKeyId: 'id-stays',
    keyHint: '…abcd',
    nested: [{ accessToken: MASK }, { note: `Authorization: ${MASK}` }],
    text: `my key is ${MASK} and ${MASK}`,
    pem: MASK,
    inputTokens: 12,
    empty: null,
    webhook: MASK,
  })
})

t.test('unknown events get an action and a resource from their name and payload', async (t) => {
  t.same(describeEvent('billing.creditGifted', { giftId: 'g1', organizationId: 'o' }, []), { action: 'billing.credit_gifted', resourceType: 'credits', resourceId: 'g1' })
  t.same(describeEvent('billing.subscriptionChanged', { subscriptionId: 's1' }, []), { action: 'billing.subscription_changed', resourceType: 'subscription', resourceId: 's1' })
  t.same(describeEvent('routing.overrideSet', { projectId: 'p1' }, []), { action: 'routing.override_set', resourceType: 'settings', resourceId: 'p1' })
  t.same(describeEvent('budget.limitChanged', { budgetId: 'b1' }, []), { action: 'budget.limit_changed', resourceType: 'settings', resourceId: 'b1' })
  t.same(describeEvent('widgets.spun', { id: 'w1' }, []), { action: 'widgets.spun', resourceType: 'widgets', resourceId: 'w1' })
  t.same(describeEvent('x.y', {}, [{ event: 'x.*', action: () => 'custom.act', resourceType: 'organization', resourceId: () => 'o1' }]), { action: 'custom.act', resourceType: 'organization', resourceId: 'o1' })
})
