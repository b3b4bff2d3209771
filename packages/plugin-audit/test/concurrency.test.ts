import t from 'tap'
import { auditGateway } from './support.js'

// 10,000 on PostgreSQL (real concurrent connections); PGlite has one connection, so there the
// appends interleave only between statements and a smaller count shows the same property.
const onPg = Boolean(process.env.DATABASE_URL)
const APPENDS = Number(process.env.AUDIT_APPENDS ?? (onPg ? 10_000 : 1_000))
const CONCURRENCY = 50

// Long by design (a must-show load): raise the runner's per-file timeout for this file.
t.setTimeout(900_000)

t.test(`${APPENDS} concurrent appends: no gaps, no two entries with the same predecessor`, async (t) => {
  const { gw, audit, em } = await auditGateway(t, { poolSize: 20 })
  const org = gw.organizationId
  const other = (await gw.identity.createOrganization({ name: 'Other', ownerUserId: gw.userId })).id
  const start = Number((await em().execute<{ n: string }[]>('select count(*) as n from audit_entry where organization_id = ?', [org], 'all'))[0].n)

  let next = 0
  let failures = 0
  const started = performance.now()
  // A bounded pool of workers, each appending in its own transaction; every tenth goes to another
  // organization, whose chain must not wait for or interleave with the first.
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < APPENDS) {
        const i = next++
        try {
          await audit.record({ organizationId: i % 10 === 0 ? other : org, event: 'load.appended', actor: { type: 'system', id: 'load' }, action: 'load.appended', resourceType: 'settings', resourceId: String(i), diff: { after: { i } }, details: null, ip: null, userAgent: null })
        } catch {
          failures++
        }
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  t.equal(failures, 0, 'every append committed')
  t.comment(`${APPENDS} appends in ${seconds.toFixed(1)} s (${Math.round(APPENDS / seconds)}/s) with ${CONCURRENCY} concurrent writers`)

  for (const [organizationId, extra] of [[org, APPENDS - Math.ceil(APPENDS / 10)], [other, Math.ceil(APPENDS / 10)]] as const) {
    const [stats] = await em().execute<{ n: string; min: string; max: string; distinct_prev: string; linked: string }[]>(
      `select count(*) as n, min(seq) as min, max(seq) as max, count(distinct prev_hash) as distinct_prev,
              count(*) filter (where e.seq = 1 or e.prev_hash = (select p.hash from audit_entry p where p.organization_id = e.organization_id and p.seq = e.seq - 1)) as linked
         from audit_entry e where organization_id = ?`,
      [organizationId],
      'all',
    )
    const n = Number(stats.n)
    const expected = (organizationId === org ? start : 3) + extra
    t.equal(n, expected, `${organizationId === org ? 'first' : 'second'} organization: every entry present`)
    t.equal(Number(stats.min), 1)
    t.equal(Number(stats.max), n, 'sequence numbers 1..n without gaps')
    t.equal(Number(stats.distinct_prev), n, 'no two entries share a predecessor')
    t.equal(Number(stats.linked), n, 'each entry links to the one before it')
    const report = await audit.verify(organizationId)
    t.equal(report.intact, true, 'the chain verifies')
    t.equal(report.lastGoodSeq, n)
  }
})
