// One benchmark gateway process in front of the fake upstream: `core` (no plugins) or `billing`
// (the billing plugin with a prepaid balance, an organization monthly budget and a per-key daily
// budget on every organization: three pools reserved per request). `orgs` organizations, each
// with one API key. Prints {port, keys} on stdout; on SIGTERM prints settlement figures and exits.
import pino from 'pino'
import { database } from './bench-database.ts'
import { createGateway, parseUsd } from '@tollgate/core'

// BENCH_BILLING_MODULE: load the plugin from another copy of its source (compare two versions).
const plugin: typeof import('@tollgate/plugin-billing-stripe') = await import(process.env.BENCH_BILLING_MODULE ?? '@tollgate/plugin-billing-stripe')
const { billingBudgetsRef, billingLedgerRef, billingPlugin } = plugin

const [upstream, mode, orgsText] = process.argv.slice(2)
const orgs = Number(orgsText)
const billing = mode === 'billing'
const unlimited = { seats: null, requestsPerMonth: null, tokensPerMonth: null, queriesPerMonth: null, storageGb: null }
const db = await database()
const gw = await createGateway({
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: false })),
  database: db.options,
  security: { providerKeyEncryptionKey: Buffer.alloc(32, 1).toString('base64') },
  providers: [{ id: 'bench', kind: 'openai', baseUrl: `${upstream}/v1`, apiKey: 'sk-bench', connections: 128 }],
  models: [{ name: 'bench-model', provider: 'bench', prices: { input: '0.15', output: '0.6' }, maxOutputTokens: 4096 }],
  // BENCH_BILLING_CONFIG (JSON) is merged into the plugin's config, for experiments.
  plugins: billing ? [billingPlugin({ plans: { free: { limits: unlimited } }, ...JSON.parse(process.env.BENCH_BILLING_CONFIG ?? '{}') })] : [],
})
const keys: string[] = []
for (let i = 0; i < orgs; i++) {
  const user = await gw.identity.createUser({ email: `bench-${i}-${Date.now()}@example.test` })
  const org = user.personalOrganizationId
  const key = await gw.identity.createApiKey({ organizationId: org, projectId: user.defaultProjectId, ownerUserId: user.id, name: 'bench' })
  keys.push(key.secret)
  if (billing) {
    await gw.services.get(billingLedgerRef).post({ account: { organizationId: org }, type: 'purchase', amount: parseUsd('1000000'), idempotencyKey: 'bench' })
    const budgets = gw.services.get(billingBudgetsRef)
    await budgets.create({ organizationId: org, scope: 'organization', period: 'month', limit: parseUsd('1000000') })
    await budgets.create({ organizationId: org, scope: 'api_key', subjectId: key.id, period: 'day', limit: parseUsd('1000000') })
  }
}
const url = await gw.listen({ port: 0, host: '127.0.0.1' })
console.log(JSON.stringify({ port: Number(new URL(url).port), keys }))

// SIGUSR2: print the process CPU time so far (µs), so the driver can compute CPU per request.
process.on('SIGUSR2', () => {
  const u = process.cpuUsage()
  console.log(JSON.stringify({ cpuMicros: u.user + u.system }))
})

process.on('SIGTERM', async () => {
  const metrics = await gw.metrics.registry.getMetricsAsJSON()
  const value = (name: string, stat?: string) => {
    const m = metrics.find((x) => x.name === name) as { values: { value: number; metricName?: string }[] } | undefined
    return m?.values.find((v) => !stat || v.metricName === `${name}_${stat}`)?.value ?? 0
  }
  await gw.close()
  await db.drop()
  console.log(
    JSON.stringify({
      settled: value('tollgate_billing_settled_requests_total'),
      flushes: value('tollgate_billing_settlement_flush_seconds', 'count'),
      flushSeconds: value('tollgate_billing_settlement_flush_seconds', 'sum'),
      leases: value('tollgate_billing_leases_total'),
    }),
  )
  process.exit(0)
})
