// The gateway with core only (no plugins), in front of the fake upstream. Runs in its own process;
// prints its port and an API key on stdout; logs (the access log included, as in production) go
// to stderr at info level. Uses PostgreSQL when DATABASE_URL is set, else PGlite.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createGateway } from '@tollgate/core'

const upstream = process.argv[2]
// Logs go to pino's default destination (a synchronous write per line, as the reference server
// logs to stdout), here on stderr; the access log stays on at info. Measured on this machine: an
// asynchronous destination costs ~11 µs of main-thread time per write call plus a copy of what it
// wrote, against ~2 µs per synchronous line (BENCH_LOG_ASYNC=1 switches to 4 KB asynchronous blocks).
const gw = await createGateway({
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'info' }, pino.destination(process.env.BENCH_LOG_ASYNC ? { dest: 2, sync: false, minLength: 4096 } : { dest: 2, sync: true })),
  database: process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : { dataDir: mkdtempSync(join(tmpdir(), 'tollgate-bench-')) },
  security: { providerKeyEncryptionKey: Buffer.alloc(32, 1).toString('base64') },
  providers: [{ id: 'bench', kind: 'openai', baseUrl: `${upstream}/v1`, apiKey: 'sk-bench', connections: 128 }],
  models: [{ name: 'bench-model', provider: 'bench', prices: { input: '0.15', output: '0.6' } }],
})
const user = await gw.identity.createUser({ email: `bench-${Date.now()}@example.test` })
const project = await gw.identity.createProject({ organizationId: user.personalOrganizationId, name: 'bench' })
const key = await gw.identity.createApiKey({ organizationId: user.personalOrganizationId, projectId: project.id, ownerUserId: user.id, name: 'bench' })
const url = await gw.listen({ port: 0, host: '127.0.0.1' })
console.log(JSON.stringify({ port: Number(new URL(url).port), apiKey: key.secret }))
process.on('SIGTERM', async () => {
  await gw.close()
  process.exit(0)
})
