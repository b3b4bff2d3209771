import t from 'tap'
import { parse } from 'csv-parse/sync'
import { createTestGateway } from '@tollgate/core/testing'
import { AnalyticsServices, analyticsPlugin } from '@tollgate/plugin-analytics'
import { drainRollups, usageEvent, writeEvents } from '../support.ts'

/**
 * Must show: authorization. Another organization's analytics answer 404; a member sees only their
 * own usage and cannot read another member's detail (403) or another member's key (404); the
 * enterprise policy gives a non-entitled organization a clear upgrade error. Also: every bad query
 * parameter is named, and the CSV exports hold what the JSON holds.
 */
const entitled = new Set<string>()
const gw = await createTestGateway({ plugins: [analyticsPlugin({ rollup: { intervalMs: 3_600_000 }, entitlement: { mode: 'enterprise' } })] })
t.teardown(() => gw.close())
gw.services.provide(AnalyticsServices.entitlement, (org: string) => entitled.has(org))
const org = gw.organizationId
entitled.add(org)

const id = gw.identity
const admin = await id.createUser({ email: 'admin@example.test', name: 'Ada Admin' })
const alice = await id.createUser({ email: 'alice@example.test', name: 'Alice' })
const bob = await id.createUser({ email: 'bob@example.test', name: 'Bob' })
await id.addMember({ organizationId: org, userId: admin.id, role: 'admin' })
await id.addMember({ organizationId: org, userId: alice.id, role: 'member' })
await id.addMember({ organizationId: org, userId: bob.id, role: 'member' })
const adminKey = await id.createApiKey({ organizationId: org, projectId: gw.projectId, ownerUserId: admin.id, name: 'admin key' })
const aliceKey = await id.createApiKey({ organizationId: org, projectId: gw.projectId, ownerUserId: alice.id, name: 'alice key', appName: 'alice-app' })
const bobKey = await id.createApiKey({ organizationId: org, projectId: gw.projectId, ownerUserId: bob.id, name: 'bob key' })
const otherOwner = await id.createUser({ email: 'other@example.test' })
const otherOrg = await id.createOrganization({ name: 'Other Org', ownerUserId: otherOwner.id })
const otherProject = await id.createProject({ organizationId: otherOrg.id, name: 'p' })
const otherKey = await id.createApiKey({ organizationId: otherOrg.id, projectId: otherProject.id, ownerUserId: otherOwner.id, name: 'other key' })

const now = Date.now() - 3_600_000
const spend = (who: { id: string }, key: { id: string }, n: number, cost: bigint, model: string) =>
  Array.from({ length: n }, (_, i) =>
    usageEvent({ requestId: `${key.id}-${model}-${i}`, occurredAt: new Date(now + i * 1000), organizationId: org, projectId: gw.projectId, apiKeyId: key.id, userId: who.id, provider: 'oai', model, cost, marketCost: cost * 2n, status: i === 0 ? 500 : 200 }),
  )
await writeEvents(gw, [...spend(alice, aliceKey, 4, 3_000_000n, 'gpt-a'), ...spend(bob, bobKey, 6, 5_000_000n, '=HYPERLINK("http://x")'), ...spend(bob, bobKey, 2, 1_000_000n, 'gpt-a')])
await writeEvents(gw, [usageEvent({ requestId: 'other-org', occurredAt: new Date(now), organizationId: otherOrg.id, userId: otherOwner.id, apiKeyId: otherKey.id, model: 'gpt-a', cost: 9n })])
await drainRollups(gw)

const as = (key: { secret: string }) => ({ authorization: `Bearer ${key.secret}` })
const get = (url: string, key: { secret: string }) => gw.app.inject({ method: 'GET', url, headers: as(key) })
const q = `organizationId=${org}&window=1d`

t.test('another organization answers 404, never its figures', async (t) => {
  for (const path of ['summary', 'activity', 'members', `members/${alice.id}`, 'models']) {
    const res = await get(`/analytics/${path}?${q}`, otherKey)
    t.equal(res.statusCode, 404, `${path}: 404 for a key of another organization`)
    t.equal(res.json().error.code, 'TOLLGATE_ERR_REQUEST_NOT_FOUND')
  }
  const res = await get(`/analytics/summary?organizationId=${otherOrg.id}&window=1d`, aliceKey)
  t.equal(res.statusCode, 404, "a member's key cannot read another organization")
  t.equal((await get(`/v1/keys/${aliceKey.id}/usage?window=1d`, otherKey)).statusCode, 404, "another organization's key usage is 404")
  t.equal((await gw.app.inject({ method: 'GET', url: `/analytics/summary?${q}` })).statusCode, 401, 'no credentials: 401')
})

t.test('owners and admins see the organization', async (t) => {
  const sum = (await get(`/analytics/summary?${q}`, adminKey)).json()
  t.equal(sum.scope, 'organization')
  t.equal(sum.totals.requests, 12, 'every member of this organization, nothing of the other')
  t.equal(sum.totals.cost, '0.000044')
  const members = (await get(`/analytics/members?${q}`, adminKey)).json().data
  t.same(
    members.map((m: { email: string; requests: number; cost: string; keyCount: number; errorRate: number }) => [m.email, m.requests, m.cost, m.keyCount]),
    [
      ['bob@example.test', 8, '0.000032', 1],
      ['alice@example.test', 4, '0.000012', 1],
      ['admin@example.test', 0, '0', 1],
      [(await id.getUser(gw.userId))?.email, 0, '0', 1],
    ],
    'members sorted by spend, with key counts, including members without usage',
  )
  const bobDetail = await get(`/analytics/members/${bob.id}?${q}`, adminKey)
  t.equal(bobDetail.statusCode, 200)
  t.equal(bobDetail.json().topModel.model, '=HYPERLINK("http://x")')
  t.equal((await get(`/v1/keys/${bobKey.id}/usage?window=1d`, adminKey)).json().totals.requests, 8, "an admin reads any member's key")
})

t.test('a member sees their own usage only', async (t) => {
  const sum = (await get(`/analytics/summary?${q}`, aliceKey)).json()
  t.equal(sum.scope, 'member')
  t.equal(sum.totals.requests, 4)
  t.equal(sum.totals.errors, 1)
  const act = (await get(`/analytics/activity?${q}&groupBy=model`, aliceKey)).json()
  t.same(
    act.ranking.map((r: { key: string }) => r.key),
    ['gpt-a'],
    "bob's models do not appear",
  )
  const members = (await get(`/analytics/members?${q}`, aliceKey)).json().data
  t.same(
    members.map((m: { userId: string }) => m.userId),
    [alice.id],
    'the members table shows only me',
  )
  const own = await get(`/analytics/members/${alice.id}?${q}`, aliceKey)
  t.equal(own.statusCode, 200, 'my own detail')
  t.equal(own.json().topApp, null, 'no app on these events')
  const other = await get(`/analytics/members/${bob.id}?${q}`, aliceKey)
  t.equal(other.statusCode, 403, "another member's detail is forbidden")
  t.equal(other.json().error.code, 'TOLLGATE_ERR_AUTH_FORBIDDEN')
  t.equal((await get(`/v1/keys/${bobKey.id}/usage?window=1d`, aliceKey)).statusCode, 404, "another member's key is not found")
  const mine = await get(`/v1/keys/${aliceKey.id}/usage?window=1d`, aliceKey)
  t.equal(mine.statusCode, 200)
  t.same([mine.json().totals.requests, mine.json().totals.errorRate], [4, 0.25], 'my key: requests and error rate')
})

t.test('a non-entitled organization gets a clear upgrade error', async (t) => {
  entitled.delete(org)
  t.teardown(() => void entitled.add(org))
  const orgWide = await get(`/analytics/summary?${q}`, adminKey)
  t.equal(orgWide.statusCode, 403)
  t.equal(orgWide.json().error.code, 'TOLLGATE_ERR_ANALYTICS_UPGRADE_REQUIRED')
  t.match(orgWide.json().error.message, /Enterprise/)
  t.equal((await get(`/analytics/members?${q}`, adminKey)).json().error.code, 'TOLLGATE_ERR_ANALYTICS_UPGRADE_REQUIRED', 'member analytics are enterprise')
  const project = await get(`/analytics/summary?${q}&projectId=${gw.projectId}`, adminKey)
  t.equal(project.statusCode, 200, 'one project stays available')
  t.equal(project.json().scope, 'project')
  t.equal((await get(`/analytics/summary?${q}`, aliceKey)).statusCode, 200, 'my own usage stays available')
  const long = await get(`/analytics/summary?organizationId=${org}&window=90d`, aliceKey)
  t.equal(long.json().error.code, 'TOLLGATE_ERR_ANALYTICS_UPGRADE_REQUIRED', 'windows over 30 days are enterprise')
})

t.test('bad parameters are rejected with the field named', async (t) => {
  const cases: [string, string][] = [
    [`/analytics/summary?window=1d`, 'organizationId'],
    [`/analytics/summary?organizationId=nope&window=1d`, 'organizationId'],
    [`/analytics/summary?${q}&timezone=Mars/Olympus`, 'timezone'],
    [`/analytics/summary?organizationId=${org}&window=2d`, 'window'],
    [`/analytics/summary?organizationId=${org}&window=1d&from=2026-01-01`, 'window'],
    [`/analytics/summary?organizationId=${org}&from=2026-01-01`, 'to'],
    [`/analytics/summary?organizationId=${org}&from=2026-02-30&to=2026-03-01`, 'from'],
    [`/analytics/summary?organizationId=${org}&from=2026-03-02&to=2026-03-01`, 'to'],
    [`/analytics/summary?organizationId=${org}&from=2024-01-01&to=2026-03-01`, 'to'],
    [`/analytics/activity?${q}&groupBy=colour`, 'groupBy'],
    [`/analytics/activity?organizationId=${org}&window=90d&granularity=hour`, 'granularity'],
    [`/analytics/activity?${q}&granularity=week`, 'granularity'],
    [`/analytics/summary?${q}&timezon=UTC`, 'timezon'],
    [`/analytics/summary?${q}&format=xml`, 'format'],
    [`/analytics/summary?${q}&projectId=${otherProject.id}`, ''],
  ]
  for (const [url, field] of cases) {
    const res = await get(url, adminKey)
    if (field === '') {
      t.equal(res.statusCode, 404, "another organization's project is not found")
      continue
    }
    t.equal(res.statusCode, 400, `${url}: 400`)
    t.equal(res.json().error.code, 'TOLLGATE_ERR_ANALYTICS_INVALID_QUERY')
    t.equal(res.json().error.field, field, `${url}: names ${field}`)
    t.match(res.json().error.message, field)
  }
})

t.test('CSV and JSON exports of the views', async (t) => {
  const json = (await get(`/analytics/activity?${q}&groupBy=model`, adminKey)).json()
  const csv = await get(`/analytics/activity?${q}&groupBy=model&format=csv`, adminKey)
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.match(csv.headers['content-disposition'], /attachment; filename="analytics-activity-model-series_.*\.csv"/)
  const rows = parse(csv.body, { columns: true }) as Record<string, string>[]
  t.equal(rows.length, json.series.length, 'one CSV row per series point')
  t.same(
    rows.map((r) => [r.key, r.cost, r.requests]),
    json.series.map((s: { key: string; cost: string; requests: number }) => [s.key.startsWith('=') ? `'${s.key}` : s.key, s.cost, String(s.requests)]),
    'the same figures as the JSON; a formula-like model name is defused',
  )
  const ranking = parse((await get(`/analytics/activity?${q}&groupBy=model&format=csv&table=ranking`, adminKey)).body, { columns: true }) as Record<string, string>[]
  t.same(
    ranking.map((r) => r.cost),
    json.ranking.map((r: { cost: string }) => r.cost),
  )
  for (const path of ['summary', 'members', `members/${bob.id}`, 'models']) {
    const res = await get(`/analytics/${path}?${q}&format=csv`, adminKey)
    t.equal(res.statusCode, 200, `${path} exports as CSV`)
    t.ok((parse(res.body, { columns: true }) as unknown[]).length >= 1, `${path}: rows`)
    const j = await get(`/analytics/${path}?${q}&format=json`, adminKey)
    t.match(j.headers['content-disposition'], /\.json"$/, `${path} exports as a JSON file`)
  }
  const keyCsv = parse((await get(`/v1/keys/${bobKey.id}/usage?window=1d&format=csv`, adminKey)).body, { columns: true }) as Record<string, string>[]
  t.equal(keyCsv.reduce((a, r) => a + Number(r.requests), 0), 8, 'key usage CSV adds up')
})
