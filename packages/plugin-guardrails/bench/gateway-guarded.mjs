// The gateway with core + the guardrails plugin (default policy: every system rule), in front of
// the fake upstream. Like the root bench/gateway-core.mjs: its own process; prints its port and
// an API key on stdout. Run from sources (--conditions=tollgate-src + the tsx loader).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createGateway } from '@tollgate/core'
import { pathToFileURL } from 'node:url'

const upstream = process.argv[2]
const withGuardrails = process.argv[3] !== 'core'
// `baseline <dir>`: the plugin from an earlier copy of src/ (for before/after comparisons in one run).
const { guardrailsPlugin } = process.argv[3] === 'baseline' ? await import(pathToFileURL(`${process.argv[4]}/index.ts`).href) : await import('@tollgate/plugin-guardrails')
const gw = await createGateway({
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' }, pino.destination({ dest: 2, sync: false })),
  database: { dataDir: mkdtempSync(join(tmpdir(), 'tollgate-gr-bench-')) },
  security: { providerKeyEncryptionKey: Buffer.alloc(32, 1).toString('base64') },
  providers: [{ id: 'bench', kind: 'openai', baseUrl: `${upstream}/v1`, apiKey: 'sk-bench', connections: 128 }],
  models: [{ name: 'bench-model', provider: 'bench', prices: { input: '0.15', output: '0.6' } }],
  plugins: withGuardrails ? [guardrailsPlugin({})] : [],
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
