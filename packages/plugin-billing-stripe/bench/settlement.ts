// Settlement write cost, per request, of the batched path (one detail row per request, one
// usage_debit per account per batch) next to the per-request ledger path it replaced (one
// usage_debit entry per request, kept here only as the baseline), in one run, alternating
// batches. Both write the same budget counters. Reports gateway CPU and PostgreSQL backend CPU
// (the backends of this database, from /proc) per request, and requests settled per second.
//
//   node --import=./test-support/tsx-register.mjs --conditions=tollgate-src \
//     packages/plugin-billing-stripe/bench/settlement.ts [--orgs 1] [--batch 500] [--batches 40]
import { readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { database } from './bench-database.ts'
import { createGateway, parseUsd, type TxEntityManager } from '@tollgate/core'
import { billingAccountsRef, billingBudgetsRef, billingLedgerRef, billingPlugin, applicableBudgets, periodBounds, savingsOf, usageDebitKey } from '@tollgate/plugin-billing-stripe'
import { budgetPoolKey } from '../src/budgets/lease-pools.ts'
import { type ChargePosting, type CounterTarget, postCharges } from '../src/ledger/charge-posting.ts'
import { postRequestCharges, type RequestPosting } from '../src/ledger/request-settlement.ts'
import type { SqlLedger } from '../src/ledger/sql-ledger.ts'
import type { RequestCharge } from '../src/pricing/request-charge.ts'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const orgs = arg('orgs', 1)
const batchSize = arg('batch', 500)
const batches = arg('batches', 40)

const db = await database()
const gw = await createGateway({
  logger: pino({ level: 'warn' }),
  database: db.options,
  security: { providerKeyEncryptionKey: Buffer.alloc(32, 1).toString('base64') },
  providers: [{ id: 'bench', kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-bench' }],
  models: [{ name: 'bench-model', provider: 'bench', prices: { input: '0.15', output: '0.6' } }],
  plugins: [billingPlugin({ settlement: { workerIntervalMs: 100_000_000 }, usageRollupEveryMs: 100_000_000, plans: { free: { limits: { seats: null, requestsPerMonth: null, tokensPerMonth: null, queriesPerMonth: null, storageGb: null } } } })],
})
const ledger = gw.services.get(billingLedgerRef) as SqlLedger
const budgets = gw.services.get(billingBudgetsRef)
const accounts = gw.services.get(billingAccountsRef)

interface Subject {
  organizationId: string
  apiKeyId: string
  projectId: string
  account: { ref: { organizationId: string }; id: string }
  counters: CounterTarget[]
}
const subjects: Subject[] = []
for (let i = 0; i < orgs; i++) {
  const user = await gw.identity.createUser({ email: `settle-${i}-${Date.now()}@example.test` })
  const org = user.personalOrganizationId
  const key = await gw.identity.createApiKey({ organizationId: org, projectId: user.defaultProjectId, ownerUserId: user.id, name: 'bench' })
  await ledger.post({ account: { organizationId: org }, type: 'purchase', amount: parseUsd('1000000'), idempotencyKey: 'bench' })
  await budgets.create({ organizationId: org, scope: 'organization', period: 'month', limit: parseUsd('1000000') })
  await budgets.create({ organizationId: org, scope: 'api_key', subjectId: key.id, period: 'day', limit: parseUsd('1000000') })
  const applied = applicableBudgets(await budgets.list(org), { organizationId: org, apiKeyId: key.id, projectId: user.defaultProjectId })
  const counters = applied.map(({ budget, subject }) => {
    const b = periodBounds(budget.period, new Date(), 'UTC')
    return { key: budgetPoolKey(budget.id, subject, b.start), budget, subjectId: subject, periodStart: b.start, periodEnd: b.end }
  })
  subjects.push({ organizationId: org, apiKeyId: key.id, projectId: user.defaultProjectId, account: await accounts.forMember(org, undefined), counters })
}

let n = 0
function charge(s: Subject): RequestCharge {
  n++
  return { requestId: randomUUID(), occurredAt: new Date(), organizationId: s.organizationId, projectId: s.projectId, apiKeyId: s.apiKeyId, model: 'bench-model', provider: 'bench', cost: 150_000_000n + BigInt(n % 7), marketCost: 200_000_000n, inputTokens: 900, outputTokens: 50, cachedReadTokens: 0, cacheWriteTokens: 0, streaming: false, estimated: false }
}

/** The per-request usage_debit this code wrote before batching (the baseline). */
function perRequestPosting(c: RequestCharge, s: Subject): ChargePosting {
  return {
    draft: {
      accountId: s.account.id,
      organizationId: s.organizationId,
      type: 'usage_debit',
      amount: -c.cost,
      idempotencyKey: usageDebitKey(c.requestId),
      description: `${c.model} request`,
      reference: { kind: 'request', id: c.requestId },
      actor: { type: 'api_key', id: s.apiKeyId },
      metadata: { model: c.model ?? null, provider: c.provider ?? null, projectId: c.projectId ?? null, apiKeyId: c.apiKeyId ?? null, memberId: null, inputTokens: c.inputTokens, outputTokens: c.outputTokens, cachedReadTokens: 0, cacheWriteTokens: 0, marketCost: c.marketCost.toString(), savings: savingsOf(c).toString(), streaming: false, estimated: false },
    },
    cost: c.cost,
    counters: s.counters,
  }
}

/** User + system CPU (µs) of this database's PostgreSQL backends (same host, readable /proc), or undefined. */
async function pgCpuMicros(): Promise<number | undefined> {
  if (!process.env.DATABASE_URL) return undefined
  const rows = await gw.db.orm.em.fork().execute<{ pid: number }[]>('select pid from pg_stat_activity where datname = current_database()', [], 'all')
  const tick = 1_000_000 / 100
  let total = 0
  for (const { pid } of rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      total += (Number(f[11]) + Number(f[12])) * tick
    } catch {
      return undefined
    }
  }
  return total
}

const totals = { batched: { node: 0, pg: 0, ms: 0, requests: 0 }, perRequest: { node: 0, pg: 0, ms: 0, requests: 0 } }
for (let i = 0; i < batches * 2; i++) {
  const kind = i % 2 === 0 ? 'batched' : 'perRequest'
  const picks = Array.from({ length: batchSize }, (_, j) => subjects[(i * batchSize + j) % subjects.length])
  const pgBefore = await pgCpuMicros()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await gw.db.orm.em.fork().transactional(async (em: TxEntityManager) => {
    if (kind === 'batched') await postRequestCharges(ledger, em, picks.map((s): RequestPosting => ({ charge: charge(s), account: s.account, counters: s.counters })))
    else await postCharges(ledger, em, picks.map((s) => perRequestPosting(charge(s), s)))
  })
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  const pgAfter = await pgCpuMicros()
  if (i < 4) continue // warm-up
  const t = totals[kind]
  t.node += used.user + used.system
  t.pg += pgBefore !== undefined && pgAfter !== undefined ? pgAfter - pgBefore : 0
  t.ms += ms
  t.requests += batchSize
}
const verify = await ledger.verify()
const report = Object.fromEntries(
  Object.entries(totals).map(([k, t]) => [k, { nodeCpuMicrosPerRequest: Math.round(t.node / t.requests), pgCpuMicrosPerRequest: process.env.DATABASE_URL ? Math.round(t.pg / t.requests) : null, requestsPerSecondOfFlush: Math.round(t.requests / (t.ms / 1000)) }]),
)
console.log(JSON.stringify({ orgs, batchSize, batches, database: process.env.DATABASE_URL ? 'postgresql' : 'pglite', ledgerVerified: verify.ok, ...report }, null, 2))
await gw.close()
await db.drop()
