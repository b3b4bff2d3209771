import type { EntitySchema } from '@mikro-orm/core'
import type { MigrationObject } from '@mikro-orm/core'
import type { PluginHost } from './plugin-host.js'

/** A JSON Schema object (draft 2020-12 or 07), compiled by ajv at startup. */
export type JsonSchema = Record<string, unknown>

/** An explicitly named migration: `<pluginId>:<nnnn>_<what>`. */
export type PluginMigration = MigrationObject

/** What a plugin declares. */
export interface PluginDefinition<Config = Record<string, unknown>> {
  /** kebab-case, unique; the plugin's tables are prefixed with it (dashes as underscores). */
  id: string
  /** JSON Schema for the plugin's config; defaults in it are applied. */
  configSchema?: JsonSchema
  /** Ids of plugins that must be registered (and are registered first). */
  dependencies?: string[]
  /** MikroORM entity schemas (defineEntity). */
  entities?: EntitySchema<any, any>[]
  /** Migrations, in order, named `<id>:<nnnn>_<what>`. */
  migrations?: PluginMigration[]
  /** Wires the plugin: hooks, routes, services, events, metrics, workers. */
  register(host: PluginHost, config: Config): void | Promise<void>
}

/** A plugin as passed to the gateway: the definition plus the config the operator gave it. */
export interface PluginInstance<Config = Record<string, unknown>> {
  definition: PluginDefinition<Config>
  config: unknown
}

/** Declares a plugin. Call the result with its config to add it to a gateway. */
export function definePlugin<Config = Record<string, unknown>>(definition: PluginDefinition<Config>): PluginFactory<Config> {
  const factory = ((config?: unknown) => ({ definition, config: config ?? {} })) as PluginFactory<Config>
  Object.defineProperty(factory, 'definition', { value: definition })
  Object.defineProperty(factory, 'id', { value: definition.id })
  return factory
}

/** The result of definePlugin: `plugin(config)` gives an instance; `plugin.definition` is the declaration. */
export interface PluginFactory<Config> {
  (config?: Partial<Config> | Record<string, unknown>): PluginInstance<Config>
  readonly definition: PluginDefinition<Config>
  readonly id: string
}
