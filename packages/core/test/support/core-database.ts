import { CORE_ENTITIES, CORE_MIGRATIONS, type Database, migrateDatabase, openDatabase } from '@tollgate/core'
import { createTestDatabase, type TestDatabase } from '@tollgate/core/testing'

/** A fresh test database with core's schema, opened, migrated, and closed and dropped at teardown. */
export async function migratedCoreDatabase(t: { teardown(fn: () => Promise<void> | void): void }): Promise<{ db: Database; testDb: TestDatabase }> {
  const testDb = await createTestDatabase()
  const db = await openDatabase(testDb.options, CORE_ENTITIES, CORE_MIGRATIONS)
  t.teardown(async () => {
    await db.close()
    await testDb.drop()
  })
  await migrateDatabase(db)
  return { db, testDb }
}
