import { readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from './config-error.js'
import { defaultConfig } from './defaults.js'
import { resolveEncryptionKey } from './encryption-key.js'
import { applyEnvOverrides } from './env-overrides.js'
import { deepMerge, isPlainObject } from './merge.js'
import type { LoadedConfig } from './types.js'
import { validateServerConfig } from './validate.js'

/** Options of loadConfig. */
export interface LoadConfigOptions {
  /** Config file (YAML, or JSON by its .json extension). Default: `TOLLGATE_CONFIG`, else none (built-in defaults). */
  configPath?: string
  /** Environment to read overrides from (default process.env). */
  env?: NodeJS.ProcessEnv
  /** Folder relative paths are resolved against (default process.cwd()). */
  cwd?: string
  /** Values applied after the file and the environment (tests, embedding hosts). */
  overrides?: Record<string, unknown>
  /** Do not generate or write anything (the encryption key stays unresolved when absent); for `config print`. */
  dryRun?: boolean
}

/** Reads and parses a config file; every failure is a ConfigError naming the file. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true })
  } catch (err) {
    throw new ConfigError(`the config file ${path} does not parse: ${(err as Error).message}`)
  }
  if (parsed === null || parsed === undefined) return {}
  if (!isPlainObject(parsed)) throw new ConfigError(`the config file ${path} must hold a mapping of keys at the top level`)
  return parsed
}

/**
 * Resolves the server's configuration: the built-in defaults, then the config file (from
 * `configPath` or `TOLLGATE_CONFIG`; objects merge, arrays replace), then the environment
 * (`PORT`, `HOST`, `DATABASE_URL`, `TOLLGATE_DATA_DIR`, `TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY`,
 * `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `LOG_LEVEL`, `TOLLGATE__a__b`), then `overrides`.
 * Validates the result with ajv (defaults applied; errors name the key path), makes the data
 * paths absolute and resolves the provider-key encryption key. Throws ConfigError.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const configPath = options.configPath ?? (env.TOLLGATE_CONFIG || undefined)
  const file = configPath ? resolve(cwd, configPath) : undefined

  let merged = defaultConfig()
  if (file) merged = deepMerge(merged, await readConfigFile(file))
  const envUsed = applyEnvOverrides(merged, env)
  if (options.overrides) merged = deepMerge(merged, options.overrides)

  const config = validateServerConfig(merged, envUsed)
  config.dataDir = resolve(cwd, config.dataDir)
  if (!config.database?.url) {
    const dataDir = config.database?.dataDir
    config.database = {
      ...config.database,
      dataDir: dataDir === undefined ? resolve(config.dataDir, 'db') : dataDir.startsWith('memory://') ? dataDir : resolve(cwd, dataDir),
    }
  }
  const encryptionKey = await resolveEncryptionKey(config, { dryRun: options.dryRun })
  return { config, sources: { file, env: envUsed, encryptionKey } }
}
