/**
 * Audit plugin benchmark, on a scratch PostgreSQL database (created and dropped by the run):
 *
 *   1. append throughput with the hash chain (one writer; 50 writers on one organization; 50
 *      writers on 50 organizations) against a baseline of plain single-row inserts in their own
 *      transactions (same table shape, no chain, no lock);
 *   2. verification speed (entries/s) against a baseline of only reading the same rows;
 *   3. export of one million request-log rows over HTTP (CSV and JSON Lines) with the process's
 *      peak RSS, against the RSS before the export.
 *
 * Run (Node 24; --expose-gc lets it collect before each export): node --expose-gc --import ./test-support/tsx-register.mjs --conditions=tollgate-src \
 *   packages/plugin-audit/bench/audit-bench.ts
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_APPENDS (2000),
 * BENCH_VERIFY_ENTRIES (20000), BENCH_EXPORT_ROWS (1000000) tune it.
 */
import { generateKeyPairSync } from 'node:crypto'
import { request } from 'node:http'
import type { TxEntityManager } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'
import { AuditServiceRef, auditPlugin } from '@tollgate/plugin-audit'

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres'
const APPENDS = Number(process.env.BENCH_APPENDS ?? 2000)
const VERIFY_ENTRIES = Number(process.env.BENCH_VERIFY_ENTRIES ?? 20_000)
const EXPORT_ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? 1_000_000)

const { privateKey } = generateKeyPairSync('ed25519')
const gw = await createTestGateway({
  plugins: [auditPlugin({ checkpoints: { privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() } })],
  config: { database: { poolSize: 20 } },
})
const audit = gw.services.get(AuditServiceRef)
const em = () => gw.db.orm.em.fork() as unknown as TxEntityManager
const results: Record<string, unknown> = {}
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000)

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await fn(next++)
  }))
  return performance.now() - t0
}

const entry = (org: string, i: number) => ({
  organizationId: org, event: 'bench.changed', actor: { type: 'user', id: `u${i % 10}` }, action: 'bench.changed', resourceType: 'settings',
  resourceId: `r${i}`, diff: { before: { value: i }, after: { value: i + 1, label: `label ${i}` } }, details: null, ip: '10.0.0.1', userAgent: 'bench',
})

try {
  // 1. Appends.
  await em().execute('create table bench_plain (id bigserial primary key, organization_id uuid, action text, diff jsonb, hash text)', [], 'run')
  const org = gw.organizationId
  const plain1 = await pool(APPENDS, 1, async (i) => {
    await gw.db.orm.em.fork().transactional((tx) => tx.execute('insert into bench_plain (organization_id, action, diff, hash) values (?, ?, ?::jsonb, ?)', [org, 'bench', JSON.stringify(entry(org, i).diff), 'x'], 'run'))
  })
  const chain1 = await pool(APPENDS, 1, async (i) => void (await audit.record(entry(org, i))))
  const plain50 = await pool(APPENDS, 50, async (i) => {
    await gw.db.orm.em.fork().transactional((tx) => tx.execute('insert into bench_plain (organization_id, action, diff, hash) values (?, ?, ?::jsonb, ?)', [org, 'bench', JSON.stringify(entry(org, i).diff), 'x'], 'run'))
  })
  const chain50 = await pool(APPENDS, 50, async (i) => void (await audit.record(entry(org, i))))
  const orgs: string[] = []
  for (let i = 0; i < 50; i++) orgs.push((await gw.identity.createOrganization({ name: `bench ${i}`, ownerUserId: gw.userId })).id)
  const chain50orgs = await pool(APPENDS, 50, async (i) => void (await audit.record(entry(orgs[i % 50], i))))
  results.append = {
    appends: APPENDS,
    plainInsertPerSec1Writer: rate(APPENDS, plain1),
    chainedPerSec1Writer: rate(APPENDS, chain1),
    ratio1Writer: +(plain1 / chain1).toFixed(2),
    plainInsertPerSec50Writers: rate(APPENDS, plain50),
    chainedPerSec50WritersOneOrg: rate(APPENDS, chain50),
    ratio50WritersOneOrg: +(plain50 / chain50).toFixed(2),
    chainedPerSec50WritersFiftyOrgs: rate(APPENDS, chain50orgs),
    ratio50WritersFiftyOrgs: +(plain50 / chain50orgs).toFixed(2),
  }
  console.log('append', results.append)

  // 2. Verification: a long chain written in one transaction, then verified; baseline = reading it only.
  const vOrg = (await gw.identity.createOrganization({ name: 'verify bench', ownerUserId: gw.userId })).id
  await gw.db.orm.em.fork().transactional(async (tx) => {
    for (let i = 0; i < VERIFY_ENTRIES; i++) await audit.record(entry(vOrg, i), tx)
  })
  let t0 = performance.now()
  let read = 0
  for (let after = 0; ; ) {
    const rows = await em().execute<{ seq: string }[]>('select * from audit_entry where organization_id = ? and seq > ? order by seq limit 5000', [vOrg, after], 'all')
    read += rows.length
    if (rows.length < 5000) break
    after = Number(rows[rows.length - 1].seq)
  }
  const readMs = performance.now() - t0
  t0 = performance.now()
  const report = await audit.verify(vOrg)
  const verifyMs = performance.now() - t0
  if (!report.intact || report.checkedEntries < VERIFY_ENTRIES) throw new Error(`verification failed: ${JSON.stringify(report)}`)
  results.verify = { entries: report.checkedEntries, readOnlyPerSec: rate(read, readMs), verifiedPerSec: rate(report.checkedEntries, verifyMs), ratio: +(readMs / verifyMs).toFixed(2) }
  console.log('verify', results.verify)

  // 3. Export of a million request-log rows, streamed over HTTP; peak RSS sampled while it runs.
  await em().execute(
    `insert into audit_request_log (id, request_id, occurred_at, organization_id, api_key_name, provider, model, input_tokens, output_tokens,
       cached_read_tokens, cache_write_tokens, cost, market_cost, latency_ms, status, streaming, client_ip, user_agent, estimated)
     select g, 'req-' || g, timestamptz '2026-01-01 00:00:00+00' + g * interval '10 millisecond', ?, 'bench key', 'openai', 'gpt-4o-mini', g % 1000, g % 300,
       0, 0, g * 1000, g * 1500, 20 + g % 100, case when g % 50 = 0 then 500 else 200 end, g % 2 = 0, '10.1.2.3', 'bench-agent/1.0', false
     from generate_series(1, ?) g`,
    [org, EXPORT_ROWS],
    'run',
  )
  await em().execute('analyze audit_request_log', [], 'run')
  const url = new URL(await gw.listen({ port: 0, host: '127.0.0.1' }))
  // A tenth of the rows first: if memory were proportional to the rows, the full export's peak would be far higher.
  const tenth = new Date(Date.parse('2026-01-01T00:00:00Z') + (EXPORT_ROWS / 10) * 10 + 5).toISOString()
  for (const [format, rows, to] of [['csv', EXPORT_ROWS / 10, tenth], ['csv', EXPORT_ROWS, undefined], ['ndjson', EXPORT_ROWS, undefined]] as const) {
    global.gc?.()
    const rssBefore = process.memoryUsage().rss
    let peak = rssBefore
    let peakHeap = process.memoryUsage().heapUsed
    const sampler = setInterval(() => {
      const m = process.memoryUsage()
      peak = Math.max(peak, m.rss)
      peakHeap = Math.max(peakHeap, m.heapUsed)
    }, 20)
    t0 = performance.now()
    const { bytes, lines } = await new Promise<{ bytes: number; lines: number }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: `/audit/organizations/${org}/requests/export?format=${format}${to ? `&to=${encodeURIComponent(to)}` : ''}`, headers: { authorization: `Bearer ${gw.apiKey}` } }, (res) => {
        let bytes = 0
        let lines = 0
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
        })
        res.on('end', () => resolve({ bytes, lines }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
    const ms = performance.now() - t0
    clearInterval(sampler)
    const expectedLines = format === 'csv' ? rows + 1 : rows
    if (lines !== expectedLines) throw new Error(`${format} export had ${lines} lines, expected ${expectedLines}`)
    const key = `export_${format}_${rows}`
    results[key] = {
      rows,
      seconds: +(ms / 1000).toFixed(1),
      rowsPerSec: rate(rows, ms),
      megabytes: +(bytes / 1e6).toFixed(1),
      rssBeforeMB: Math.round(rssBefore / 1e6),
      peakRssMB: Math.round(peak / 1e6),
      peakOverBaseline: +(peak / rssBefore).toFixed(2),
      peakHeapUsedMB: Math.round(peakHeap / 1e6),
    }
    console.log(key, results[key])
  }
  console.log(JSON.stringify(results))
} finally {
  await gw.close()
}
