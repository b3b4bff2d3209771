import pino from 'pino'
import { createGateway, type Gateway, type GatewayOptions } from '../gateway.js'
import type { PluginInstance } from '../plugin/define-plugin.js'
import { createTestDatabase, type TestDatabase } from './test-database.js'

/** A gateway for a test, with a seeded organization, project, owner and API key. */
export interface TestGateway extends Gateway {
  testDb: TestDatabase
  /** The seeded owner's API key secret (role owner, scoped to the seeded project). */
  apiKey: string
  organizationId: string
  projectId: string
  userId: string
  /** Closes the gateway and drops its database. */
  close(): Promise<void>
}

/** Options of createTestGateway. */
export interface TestGatewayOptions {
  plugins?: PluginInstance<any>[]
  config?: Omit<GatewayOptions, 'plugins'>
}

/**
 * Builds a gateway on a fresh test database (PostgreSQL when DATABASE_URL is set, else a PGlite
 * copy) with the mock provider and model `mock-echo`, plus one organization, project, owner and
 * API key. Call `close()` in t.teardown.
 */
export async function createTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const testDb = await createTestDatabase()
  const config = options.config ?? {}
  let gw: Gateway
  try {
    gw = await createGateway({
      logger: config.logger ?? testLogger(),
      ...config,
      database: { ...testDb.options, ...config.database },
      security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64'), ...config.security },
      usage: { flushIntervalMs: 20, ...config.usage },
      models: config.models ?? [
        { name: 'mock-echo', provider: 'mock', prices: { input: '1', output: '2' }, marketPrices: { input: '1.5', output: '3' } },
      ],
      plugins: options.plugins,
    })
  } catch (err) {
    await testDb.drop()
    throw err
  }
  const user = await gw.identity.createUser({ email: `owner-${Math.random().toString(36).slice(2)}@example.test`, name: 'Test Owner' })
  const org = await gw.identity.createOrganization({ name: 'Test Org', ownerUserId: user.id })
  const project = await gw.identity.createProject({ organizationId: org.id, name: 'default' })
  const key = await gw.identity.createApiKey({ organizationId: org.id, projectId: project.id, ownerUserId: user.id, name: 'test key' })
  const close = gw.close.bind(gw)
  return Object.assign(gw, {
    testDb,
    apiKey: key.secret,
    organizationId: org.id,
    projectId: project.id,
    userId: user.id,
    async close() {
      const watchdog = closeWatchdog(testDb)
      try {
        await close()
        watchdog.step = 'dropping the test database'
        await testDb.drop()
      } finally {
        clearInterval(watchdog.timer)
      }
    },
  })
}

/**
 * While a test gateway's close has not finished after a minute (and every minute after; or every
 * TOLLGATE_TEST_CLOSE_WATCHDOG_MS), writes
 * to stderr what it is waiting on: the step, the process's active handles and what the database
 * server is doing. A stalled teardown otherwise shows only as the runner's timeout, with nothing
 * to say which query, lock or connection held it.
 */
function closeWatchdog(testDb: TestDatabase): { step: string; timer: NodeJS.Timeout } {
  const started = Date.now()
  const watchdog = {
    step: 'closing the gateway',
    timer: setInterval(() => {
      const resources = process.getActiveResourcesInfo().join(', ')
      testDb
        .activity()
        .catch((err: Error) => `(could not read the server's activity: ${err.message})`)
        .then((activity) => {
          process.stderr.write(`test gateway close: ${watchdog.step} for ${Math.round((Date.now() - started) / 1000)} s; active resources: ${resources}\n${activity}\n`)
        })
    }, Number(process.env.TOLLGATE_TEST_CLOSE_WATCHDOG_MS ?? 60_000)),
  }
  watchdog.timer.unref()
  return watchdog
}

/**
 * The test gateway's logger: silent (TOLLGATE_TEST_LOG=<level> logs everything from that level),
 * except a shutdown step it gave up on, which goes to stderr: a teardown that only finished
 * because a step was abandoned is worth seeing in a test run's output.
 */
function testLogger(): pino.Logger {
  if (process.env.TOLLGATE_TEST_LOG) return pino({ level: process.env.TOLLGATE_TEST_LOG })
  return pino(
    { level: 'error' },
    {
      write(line: string) {
        const { msg } = JSON.parse(line) as { msg?: string }
        if (msg?.startsWith('shutdown:') || msg?.startsWith('database: connections still in use')) process.stderr.write(`test gateway ${line}`)
      },
    },
  )
}
