// The full reference assembly: the reference server with every bundled plugin on (or the ones
// named in BENCH_PLUGINS=audit,guardrails,…), in front of the fake upstream. Runs in its own
// process; prints its port, the bootstrap API key and the plugins loaded on stdout. Access log
// and other logs go to stderr at info level (the bench discards them), as in production.
// Uses PostgreSQL when DATABASE_URL is set, else PGlite.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { REDACT_PATHS } from '@tollgate/core'
import { BUNDLED_PLUGIN_IDS, startServer } from '@tollgate/reference-server'

const BENCH_BILLING_DEFAULT = JSON.stringify({ requirePrepaidBalance: false, plans: { free: { limits: { tokensPerMonth: null, requestsPerMonth: null } } } })
const upstream = process.argv[2]
const ids = process.env.BENCH_PLUGINS ? process.env.BENCH_PLUGINS.split(',').filter(Boolean) : [...BUNDLED_PLUGIN_IDS]
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-full-'))
// Logs go to pino's default destination (a synchronous write per line, as the reference server
// logs to stdout), here on stderr; the access log stays on at info. Measured on this machine: an
// asynchronous destination costs ~11 µs of main-thread time per write call plus a copy of what it
// wrote, against ~2 µs per synchronous line (BENCH_LOG_ASYNC=1 switches to 4 KB asynchronous blocks).
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'info', redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' } }, pino.destination(process.env.BENCH_LOG_ASYNC ? { dest: 2, sync: false, minLength: 4096 } : { dest: 2, sync: true }))
const server = await startServer({
  logger,
  print: () => undefined,
  load: {
    env: {},
    cwd: dataDir,
    overrides: {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      database: process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : { dataDir: join(dataDir, 'db') },
      security: { providerKeyEncryptionKey: Buffer.alloc(32, 1).toString('base64') },
      providers: [{ id: 'bench', kind: 'openai', baseUrl: `${upstream}/v1`, apiKey: 'sk-bench', connections: 128 }],
      models: [{ name: 'bench-model', provider: 'bench', prices: { input: '0.15', output: '0.6' }, marketPrices: { input: '0.3', output: '1.2' } }],
      bootstrap: { enabled: true, adminEmail: `bench-${Date.now()}@example.test`, model: 'bench-model' },
      // Billing runs its budget, balance and plan-limit checks, but the bench organization has no
      // credits and a million requests would use up a free plan: no prepaid balance required and
      // an unlimited free plan (BENCH_BILLING='{…}' gives the plugin another config).
      plugins: Object.fromEntries(ids.map((id) => [id, id === 'billing' ? JSON.parse(process.env.BENCH_BILLING ?? BENCH_BILLING_DEFAULT) : true])),
    },
  },
})
// On a shared database (DATABASE_URL) the bootstrap may find users already: make a key then.
let apiKey = server.bootstrap.created ? server.bootstrap.data.apiKey.secret : undefined
if (!apiKey) {
  const identity = server.gateway.identity
  const user = await identity.createUser({ email: `bench-full-${Date.now()}@example.test` })
  const project = await identity.createProject({ organizationId: user.personalOrganizationId, name: 'bench' })
  apiKey = (await identity.createApiKey({ organizationId: user.personalOrganizationId, projectId: project.id, ownerUserId: user.id, name: 'bench' })).secret
}
console.log(JSON.stringify({ port: Number(new URL(server.url).port), apiKey, plugins: ids }))
process.on('SIGTERM', async () => {
  await server.close()
  process.exit(0)
})
