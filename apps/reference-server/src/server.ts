import { createGateway, type Gateway, type GatewayOptions, type PluginInstance, REDACT_PATHS } from '@tollgate/core'
import { type Logger, pino } from 'pino'
import { type BootstrapResult, bootstrapIfEmpty, bootstrapInstructions } from './bootstrap.js'
import { type LoadConfigOptions, type LoadedConfig, loadConfig, type ServerConfig } from './config/index.js'
import { type EmbeddedLock, lockEmbeddedDatabase } from './embedded-lock.js'
import { bundledPlugins } from './plugins.js'

/** Options shared by startServer and openGateway. */
export interface GatewayAssemblyOptions {
  /** A config already loaded with loadConfig; otherwise it is loaded with `load`. */
  config?: LoadedConfig
  /** How to load the config when `config` is not given. */
  load?: LoadConfigOptions
  /** Plugins added after the bundled ones the config switches on (for hosts embedding the server). */
  plugins?: PluginInstance<any>[]
  /** Logger (default: pino at the config's logLevel, JSON lines on stdout). */
  logger?: Logger
}

/** A gateway opened from the server config, holding the embedded database's lock when it uses one. */
export interface OpenedGateway {
  gateway: Gateway
  config: ServerConfig
  logger: Logger
  /** Closes the gateway (drain, flush, close the database) and releases the lock. */
  close(): Promise<void>
}

/** The parts of the server config that are core's GatewayConfig, with plugins and logger. */
export function toGatewayOptions(config: ServerConfig, plugins: PluginInstance<any>[], logger: Logger): GatewayOptions {
  const { port: _port, host: _host, dataDir: _dataDir, logLevel: _logLevel, bootstrap: _bootstrap, plugins: _plugins, ...gatewayConfig } = config
  return { ...gatewayConfig, plugins, logger }
}

/**
 * Builds the gateway the config describes without listening: takes the embedded database's lock
 * (so a CLI command and a running server never open the same folder), loads the bundled plugins
 * the config switches on, and calls core's createGateway (which runs pending migrations unless
 * `database.migrate` is false).
 */
export async function openGateway(options: GatewayAssemblyOptions = {}): Promise<OpenedGateway> {
  const loaded = options.config ?? (await loadConfig(options.load))
  const config = loaded.config
  // Credentials in headers and key-named fields are redacted in every line, not only the access log.
  const logger = options.logger ?? pino({ level: config.logLevel, redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' } })
  let lock: EmbeddedLock | undefined
  if (!config.database?.url && config.database?.dataDir && !config.database.dataDir.startsWith('memory://')) {
    lock = await lockEmbeddedDatabase(config.database.dataDir)
  }
  try {
    const plugins = [...(await bundledPlugins(config.plugins ?? {})), ...(options.plugins ?? [])]
    const gateway = await createGateway(toGatewayOptions(config, plugins, logger))
    let closed: Promise<void> | undefined
    return {
      gateway,
      config,
      logger,
      close: () => {
        closed ??= gateway.close().finally(() => lock?.release())
        return closed
      },
    }
  } catch (err) {
    await lock?.release()
    throw err
  }
}

/** A running reference server. */
export interface RunningServer extends OpenedGateway {
  /** Base URL to reach it (localhost when listening on every interface). */
  url: string
  /** What the first-start bootstrap did. */
  bootstrap: BootstrapResult
}

/** Options of startServer. */
export interface StartServerOptions extends GatewayAssemblyOptions {
  /** Where the human-readable start-up text goes (default stdout). */
  print?: (text: string) => void
}

/** The URL a person can call: a wildcard listen address becomes localhost. */
function reachableUrl(listenUrl: string): string {
  const url = new URL(listenUrl)
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]' || url.hostname === '::') url.hostname = 'localhost'
  return url.origin
}

/**
 * Starts the reference server: opens the gateway (migrations run unless `database.migrate` is
 * false), bootstraps an empty database before accepting connections, listens, and prints where
 * it listens and, on the first start, the API key with curl and openai SDK examples.
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`))
  const opened = await openGateway(options)
  const { config, gateway, logger } = opened
  try {
    const bootstrap = await bootstrapIfEmpty(gateway.identity, config.bootstrap, logger)
    const url = reachableUrl(await gateway.listen({ port: config.port, host: config.host }))
    const where = config.database?.url ? 'PostgreSQL' : `the embedded database in ${config.database?.dataDir}`
    print(`Tollgate is listening on ${url} (${where}).`)
    if (bootstrap.created) {
      const model = config.bootstrap.model ?? config.models?.[0]?.name ?? 'mock-echo'
      print(bootstrapInstructions(bootstrap.data, { baseUrl: url, model }))
    }
    return { ...opened, url, bootstrap }
  } catch (err) {
    await opened.close().catch((closeErr) => logger.error({ err: closeErr }, 'closing after a failed start failed'))
    throw err
  }
}
