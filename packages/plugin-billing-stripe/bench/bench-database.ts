import type { DatabaseOptions } from '@tollgate/core'
import { createTestDatabase } from '@tollgate/core/testing'

/**
 * A database of its own for a bench gateway: core's test database (a fresh PostgreSQL database
 * when DATABASE_URL is set, else a PGlite folder), with the gateway's default connection pool
 * rather than the tests' small one.
 */
export async function database(): Promise<{ options: DatabaseOptions; drop(): Promise<void> }> {
  const db = await createTestDatabase()
  const { poolSize: _testPool, ...options } = db.options as DatabaseOptions & { poolSize?: number }
  return { options: options as DatabaseOptions, drop: () => db.drop() }
}
