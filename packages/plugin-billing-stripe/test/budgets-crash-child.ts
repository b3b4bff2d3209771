/**
 * A gateway instance in its own process, for the kill -9 test: billing on the shared PostgreSQL
 * database given as argv[2], the fake upstream at argv[3], a short lease TTL. Prints one JSON
 * line with its URL and billing instance id, then serves until killed.
 */
import pino from 'pino'
import { createGateway } from '@tollgate/core'
import { billingControlRef } from '@tollgate/plugin-billing-stripe'
import { UNLIMITED_FREE_PLAN } from './budgets-support.ts'
import { billingPlugin } from '@tollgate/plugin-billing-stripe'

const [databaseUrl, upstream, ttl] = process.argv.slice(2)
const gw = await createGateway({
  logger: pino({ level: 'silent' }),
  database: { url: databaseUrl, poolSize: 3 },
  security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64') },
  usage: { flushIntervalMs: 20 },
  providers: [{ id: 'fake', kind: 'openai', baseUrl: upstream, apiKey: 'sk-upstream', timeouts: { headersMs: 60_000, bodyIdleMs: 60_000 } }],
  models: [{ name: 'fake-model', provider: 'fake', prices: { input: '1', output: '2' } }],
  plugins: [billingPlugin({ leases: { ttlMs: Number(ttl) }, settlement: { flushIntervalMs: 10, workerIntervalMs: 200 }, plans: UNLIMITED_FREE_PLAN })],
})
const url = await gw.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${JSON.stringify({ url, instanceId: gw.services.get(billingControlRef).instanceId })}\n`)
