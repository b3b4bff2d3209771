import type { GatewayConfig } from '@tollgate/core'
import type { EncryptionKeyResolution } from './encryption-key.js'
import type { EnvOverride } from './env-overrides.js'
import type { BundledPluginId, LogLevel } from './schema.js'

/** What the first start creates in an empty database. */
export interface BootstrapConfig {
  /** Create the demo organization, admin, project and API key when the database has no user (default true). */
  enabled: boolean
  organizationName: string
  projectName: string
  adminEmail: string
  adminName: string
  apiKeyName: string
  /** The model the printed examples call (default: the first catalog model). */
  model?: string
}

/** A bundled plugin's entry: `true` (on, default config), `false` (off) or its config (on). */
export type PluginEntry = boolean | Record<string, unknown>

/** The reference server's config file: core's gateway config plus the server's own keys. */
export interface ServerConfig extends GatewayConfig {
  /** TCP port (default 8080; 0 picks a free one). */
  port: number
  /** Interface to listen on (default 127.0.0.1; 0.0.0.0 in containers). */
  host: string
  /** Folder of the embedded database and the generated provider-key encryption key (default .tollgate-data). */
  dataDir: string
  logLevel: LogLevel
  bootstrap: BootstrapConfig
  plugins: Partial<Record<BundledPluginId, PluginEntry>>
}

/** Where each part of the resolved config came from, for messages. */
export interface ConfigSources {
  /** The config file read, if any. */
  file?: string
  /** Environment variables applied, with the key path each one set. */
  env: EnvOverride[]
  /** Where the provider-key encryption key came from. */
  encryptionKey: EncryptionKeyResolution
}

/** A loaded, validated config with defaults applied and the encryption key resolved. */
export interface LoadedConfig {
  config: ServerConfig
  sources: ConfigSources
}
