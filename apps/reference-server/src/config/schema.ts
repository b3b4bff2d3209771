import { gatewayConfigSchema } from '@tollgate/core'

/** Log levels accepted by `logLevel` / `LOG_LEVEL` (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** A pino log level. */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Ids of the bundled plugins the reference server can switch on from its config file. */
export const BUNDLED_PLUGIN_IDS = ['audit', 'guardrails', 'billing', 'analytics', 'sso', 'dashboard'] as const

/** The id of a bundled plugin. */
export type BundledPluginId = (typeof BUNDLED_PLUGIN_IDS)[number]

const pluginEntry = {
  anyOf: [{ type: 'boolean' }, { type: 'object' }],
}

/**
 * JSON Schema of the reference server's config file: every key of core's gateway config plus
 * the keys only the server reads (where to listen, where the embedded data lives, logging,
 * the first-start bootstrap and which bundled plugins to switch on). Plugin configs are checked
 * against each plugin's own schema by core when the gateway starts.
 */
export const serverConfigSchema = {
  $id: 'tollgate:reference-server-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    ...gatewayConfigSchema.properties,
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    host: { type: 'string', minLength: 1, default: '127.0.0.1' },
    dataDir: { type: 'string', minLength: 1, default: '.tollgate-data' },
    logLevel: { enum: [...LOG_LEVELS], default: 'info' },
    bootstrap: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        organizationName: { type: 'string', minLength: 1, default: 'Demo' },
        projectName: { type: 'string', minLength: 1, default: 'Demo project' },
        adminEmail: { type: 'string', format: 'email', default: 'admin@example.com' },
        adminName: { type: 'string', minLength: 1, default: 'Admin' },
        apiKeyName: { type: 'string', minLength: 1, default: 'demo key' },
        model: { type: 'string', minLength: 1 },
      },
    },
    plugins: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: Object.fromEntries(BUNDLED_PLUGIN_IDS.map((id) => [id, pluginEntry])),
    },
  },
} as const
