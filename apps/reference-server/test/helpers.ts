import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestDatabase } from '@tollgate/core/testing'
import type { CliIo } from '../src/index.ts'

/** A fixed provider-key encryption key for tests (never used outside them). */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 9).toString('base64')

/** A temporary folder, removed when the test ends. */
export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix = 'tollgate-rs-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Config overrides that point the server at a test database: PostgreSQL (with a shared key, as
 * production needs) when DATABASE_URL is set, else a PGlite folder.
 */
export function databaseOverrides(db: TestDatabase, dataDir: string): Record<string, unknown> {
  return {
    dataDir,
    port: 0,
    logLevel: 'silent',
    database: db.options,
    ...(db.options.url ? { security: { providerKeyEncryptionKey: TEST_ENCRYPTION_KEY } } : {}),
  }
}

/** The same as environment variables, for the CLI. */
export function databaseEnv(db: TestDatabase, dataDir: string): NodeJS.ProcessEnv {
  return {
    TOLLGATE_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...(db.options.url
      ? { DATABASE_URL: db.options.url, TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY }
      : { TOLLGATE__database__dataDir: db.options.dataDir as string }),
  }
}

/** A CLI io that records what a command prints. */
export function captureIo(env: NodeJS.ProcessEnv, cwd: string): CliIo & { out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env,
    cwd,
    waitForStop: () => new Promise(() => undefined),
  }
}
