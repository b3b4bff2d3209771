import pino from 'pino'
import t from 'tap'
import type { Database } from '../../src/data/database.js'
import { ApiKeyAuthenticator } from '../../src/identity/api-key-authenticator.js'
import { createManagementFixture, uniqueEmail } from '../management/fixture.js'
import { recordingDatabase } from '../support/recording-database.ts'

const f = await createManagementFixture()
t.teardown(() => f.close())

/** The fixture's real database, with every query counted. */
function countingDb(db: Database): { db: Database; queries: () => number } {
  const recorded = recordingDatabase(db)
  return { db: recorded.db, queries: () => recorded.queries.length }
}

t.test('concurrent first requests with one key share a single lookup', async (t) => {
  const owner = await f.identity.createUser({ email: uniqueEmail('burst') })
  const key = await f.identity.createApiKey({ organizationId: owner.personalOrganizationId, projectId: owner.defaultProjectId, ownerUserId: owner.id, name: 'burst' })
  const counted = countingDb(f.db)
  const auth = new ApiKeyAuthenticator(counted.db, pino({ level: 'silent' }), { cacheTtlMs: 60_000, lastUsedFlushMs: 60_000 })
  t.teardown(() => auth.close())
  const principals = await Promise.all(Array.from({ length: 200 }, () => auth.authenticate(key.secret)))
  t.ok(principals.every((p) => p?.apiKeyId === key.id), 'every request is authenticated')
  t.equal(counted.queries(), 1, 'one database query for 200 concurrent first requests')
  await auth.authenticate(key.secret)
  t.equal(counted.queries(), 1, 'then served from memory')
})

t.test('a lookup in flight during invalidate() is answered but not cached', async (t) => {
  const owner = await f.identity.createUser({ email: uniqueEmail('inval') })
  const key = await f.identity.createApiKey({ organizationId: owner.personalOrganizationId, projectId: owner.defaultProjectId, ownerUserId: owner.id, name: 'inval' })
  const counted = countingDb(f.db)
  const auth = new ApiKeyAuthenticator(counted.db, pino({ level: 'silent' }), { cacheTtlMs: 60_000, lastUsedFlushMs: 60_000 })
  t.teardown(() => auth.close())
  const inFlight = auth.authenticate(key.secret)
  auth.invalidate()
  t.equal((await inFlight)?.apiKeyId, key.id)
  await auth.authenticate(key.secret)
  t.equal(counted.queries(), 2, 'the next request looks the key up again')
})
