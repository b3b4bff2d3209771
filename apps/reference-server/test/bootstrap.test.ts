import t from 'tap'
import { createTestDatabase } from '@tollgate/core/testing'
import { bootstrapIfEmpty, bootstrapInstructions, loadConfig, openGateway, startServer } from '../src/index.ts'
import { databaseOverrides, tempDir } from './helpers.ts'

t.test('the first start bootstraps an empty database exactly once', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dataDir = await tempDir(t)
  const printed: string[] = []
  const load = { env: {}, cwd: dataDir, overrides: databaseOverrides(db, dataDir) }

  const first = await startServer({ load, print: (text) => printed.push(text) })
  let firstOpen = true
  t.teardown(() => (firstOpen ? first.close() : undefined))
  t.equal(first.bootstrap.created, true)
  if (!first.bootstrap.created) return
  const created = first.bootstrap.data
  t.equal(created.admin.email, 'admin@example.com')
  t.equal(created.organization.name, 'Demo')
  t.equal(created.project.name, 'Demo project')
  t.match(created.apiKey.secret, /^tg-/)
  t.equal(await first.gateway.identity.countUsers(), 1)

  const output = printed.join('\n')
  t.match(output, `Tollgate is listening on ${first.url}`)
  t.match(output, `curl ${first.url}/v1/chat/completions`)
  t.match(output, `Authorization: Bearer ${created.apiKey.secret}`)
  t.match(output, `new OpenAI({ baseURL: '${first.url}/v1', apiKey: '${created.apiKey.secret}' })`)
  t.match(output, "model: 'mock-echo'")

  t.same(await bootstrapIfEmpty(first.gateway.identity, first.config.bootstrap), { created: false, reason: 'not-empty' }, 'a second call in the same process creates nothing')
  await first.close()
  firstOpen = false

  const again: string[] = []
  const second = await startServer({ load, print: (text) => again.push(text) })
  t.teardown(() => second.close())
  t.same(second.bootstrap, { created: false, reason: 'not-empty' }, 'a later start creates nothing')
  t.equal(await second.gateway.identity.countUsers(), 1)
  t.notMatch(again.join('\n'), /API key/, 'and prints no key')
  t.ok(await second.gateway.identity.findUserByEmail('admin@example.com'))
})

t.test('bootstrap.enabled false leaves an empty database empty', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dataDir = await tempDir(t)
  const loaded = await loadConfig({ env: {}, cwd: dataDir, overrides: { ...databaseOverrides(db, dataDir), bootstrap: { enabled: false } } })
  const opened = await openGateway({ config: loaded })
  t.teardown(() => opened.close())
  t.same(await bootstrapIfEmpty(opened.gateway.identity, loaded.config.bootstrap), { created: false, reason: 'disabled' })
  t.equal(await opened.gateway.identity.countUsers(), 0)
})

t.test('the instructions quote the key for the shell and use the configured model', async (t) => {
  const text = bootstrapInstructions(
    {
      admin: { id: 'u1', email: 'ops@example.com' },
      organization: { id: 'o1', name: 'Acme', slug: 'acme' },
      project: { id: 'p1', name: 'Web' },
      apiKey: { id: 'k1', prefix: 'tg-abcdefgh', secret: 'tg-secret' },
    },
    { baseUrl: 'http://localhost:9999', model: "it's-a-model" },
  )
  t.match(text, "-H 'Authorization: Bearer tg-secret'")
  t.match(text, `-d '{"model":"it'\\''s-a-model"`)
  t.match(text, 'shown only this once')
})
