export { type BootstrapCreated, type BootstrapIdentity, type BootstrapResult, bootstrapIfEmpty, bootstrapInstructions } from './bootstrap.js'
export { EXIT, runCli } from './cli/run-cli.js'
export type { CliIo } from './cli/io.js'
export {
  type BootstrapConfig,
  BUNDLED_PLUGIN_IDS,
  type BundledPluginId,
  ConfigError,
  type ConfigSources,
  defaultConfig,
  ENCRYPTION_KEY_FILE,
  type EncryptionKeyResolution,
  type EnvOverride,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  type LogLevel,
  MASK,
  maskSecrets,
  type PluginEntry,
  type ServerConfig,
  serverConfigSchema,
} from './config/index.js'
export { lockEmbeddedDatabase, type EmbeddedLock } from './embedded-lock.js'
export { orderByDependencies, runMigrations } from './migrate.js'
export { bundledPlugins } from './plugins.js'
export { type GatewayAssemblyOptions, type OpenedGateway, openGateway, type RunningServer, type StartServerOptions, startServer, toGatewayOptions } from './server.js'
