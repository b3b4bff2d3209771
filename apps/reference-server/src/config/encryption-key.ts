import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from './config-error.js'
import type { ServerConfig } from './types.js'
import { isEncryptionKey } from './validate.js'

/** Name of the file in the data folder that holds the generated provider-key encryption key. */
export const ENCRYPTION_KEY_FILE = 'provider-key-encryption.key'

/** How the provider-key encryption key was resolved. */
export interface EncryptionKeyResolution {
  /** 'config': given in the config or the environment; 'file': read from the data folder; 'generated': written there now; 'ephemeral': in-memory database, key kept in memory; 'pending': not resolved (dry run). */
  source: 'config' | 'file' | 'generated' | 'ephemeral' | 'pending'
  file?: string
}

/**
 * Makes sure the config has a provider-key encryption key. A configured key wins. With
 * PostgreSQL (database.url) a key is required, because every instance must share it, and its
 * absence is an error that says how to make one. With the embedded database the key lives in
 * the data folder: read when present, otherwise generated from 32 random bytes and written with
 * mode 0600 on first start. With `dryRun`, nothing is written (for `config print`).
 */
export async function resolveEncryptionKey(config: ServerConfig, options: { dryRun?: boolean } = {}): Promise<EncryptionKeyResolution> {
  if (config.security?.providerKeyEncryptionKey) return { source: 'config' }
  if (config.database?.url) {
    throw new ConfigError(
      'security.providerKeyEncryptionKey is required when database.url (DATABASE_URL) is set: every instance sharing the database must use the same key. ' +
        'Set TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY to 32 random bytes in base64 (openssl rand -base64 32) and keep it with your other secrets.',
    )
  }
  if (config.database?.dataDir?.startsWith('memory://')) {
    if (!options.dryRun) config.security = { ...config.security, providerKeyEncryptionKey: randomBytes(32).toString('base64') }
    return { source: 'ephemeral' }
  }
  const file = join(config.dataDir, ENCRYPTION_KEY_FILE)
  let existing: string | undefined
  try {
    existing = (await readFile(file, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`cannot read the encryption key file ${file}: ${(err as Error).message}`)
  }
  if (existing !== undefined) {
    if (!isEncryptionKey(existing)) throw new ConfigError(`the encryption key file ${file} does not hold 32 bytes in base64; restore it from a backup (provider keys stored with it cannot be read otherwise)`)
    config.security = { ...config.security, providerKeyEncryptionKey: existing }
    return { source: 'file', file }
  }
  if (options.dryRun) return { source: 'pending', file }
  const key = randomBytes(32).toString('base64')
  await mkdir(config.dataDir, { recursive: true })
  try {
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Another process wrote it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return resolveEncryptionKey(config, options)
    throw new ConfigError(`cannot write the encryption key file ${file}: ${(err as Error).message}`)
  }
  config.security = { ...config.security, providerKeyEncryptionKey: key }
  return { source: 'generated', file }
}
