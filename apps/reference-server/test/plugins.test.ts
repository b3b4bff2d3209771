import { join } from 'node:path'
import t from 'tap'
import { createTestDatabase } from '@tollgate/core/testing'
import { BUNDLED_PLUGIN_IDS, bundledPlugins, EXIT, openGateway, runCli } from '../src/index.ts'
import { captureIo, databaseOverrides, tempDir } from './helpers.ts'

t.test('every bundled plugin loads under its id and registers in a gateway', async (t) => {
  const instances = await bundledPlugins(Object.fromEntries(BUNDLED_PLUGIN_IDS.map((id) => [id, true])))
  t.same(
    instances.map((p) => p.definition.id),
    [...BUNDLED_PLUGIN_IDS],
  )
  t.same(await bundledPlugins({ audit: false }), [], 'false leaves a plugin out')

  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dataDir = await tempDir(t)
  const opened = await openGateway({
    load: { env: {}, cwd: dataDir, overrides: { ...databaseOverrides(db, dataDir), plugins: Object.fromEntries(BUNDLED_PLUGIN_IDS.map((id) => [id, true])) } },
  })
  t.teardown(() => opened.close())
  const page = await opened.gateway.app.inject({ method: 'GET', url: '/dashboard/' })
  t.equal(page.statusCode, 200)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
})

t.test('a bad plugin config stops the start with the plugin and key named, exit code 2', async (t) => {
  const dir = await tempDir(t)
  const io = captureIo({ TOLLGATE_DATA_DIR: join(dir, 'data'), TOLLGATE__plugins__audit: '{"retentionDays": 30}' }, dir)
  t.equal(await runCli(['start'], io), EXIT.usage)
  t.match(io.err.join('\n'), /^config: plugin "audit": .*retentionDays/)
})
