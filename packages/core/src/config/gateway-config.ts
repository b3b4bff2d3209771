import type { ModelConfig } from '../catalog/model-catalog.js'
import type { DatabaseOptions } from '../data/database.js'
import type { ProviderConfig } from '../providers/provider.js'
import type { UsageWriterOptions } from '../usage/usage-writer.js'

/** The serialisable part of a gateway's configuration (what a config file holds). */
export interface GatewayConfig {
  database?: DatabaseOptions
  server?: {
    /** Largest accepted request body in bytes (default 4 MiB); larger ones get 413 before being read whole. */
    bodyLimitBytes?: number
    /** Time allowed for a client to send the request headers (slowloris guard), ms. */
    headersTimeoutMs?: number
    /** Idle keep-alive timeout, ms. */
    keepAliveTimeoutMs?: number
    /** Maximum time a whole request may take, ms (0 = none; streams can be long). */
    requestTimeoutMs?: number
    /** Trust X-Forwarded-For from these proxies (fastify trustProxy). */
    trustProxy?: boolean | string | string[]
    /** How long shutdown waits for in-flight requests and streams to finish, ms. */
    drainTimeoutMs?: number
    /** Largest nesting depth accepted in a JSON body. */
    maxJsonDepth?: number
  }
  /** Upstream providers. A `mock` provider is always available for trying the gateway without a vendor key. */
  providers?: ProviderConfig[]
  /** Catalog models seeded into the database at startup (existing ones are left as edited). */
  models?: ModelConfig[]
  security?: {
    /** 32-byte key (base64) encrypting provider keys at rest with AES-256-GCM. */
    providerKeyEncryptionKey?: string
    /** How long an API key lookup is cached, ms (revocation elsewhere takes effect within it). */
    apiKeyCacheTtlMs?: number
  }
  usage?: UsageWriterOptions
  invitations?: {
    /** Public base URL the invitation link points at. */
    acceptUrl?: string
    /** Days an invitation stays valid. */
    ttlDays?: number
  }
  metrics?: { defaultMetrics?: boolean }
}

const prices = {
  type: 'object',
  additionalProperties: false,
  properties: {
    input: { type: 'string', pattern: '^\\d+(\\.\\d{1,6})?$' },
    output: { type: 'string', pattern: '^\\d+(\\.\\d{1,6})?$' },
    cachedRead: { type: 'string', pattern: '^\\d+(\\.\\d{1,6})?$' },
    cacheWrite: { type: 'string', pattern: '^\\d+(\\.\\d{1,6})?$' },
  },
}

/** JSON Schema of GatewayConfig (ajv, compiled once at startup; errors name the path). */
export const gatewayConfigSchema = {
  $id: 'tollgate:gateway-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    database: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^postgres(ql)?://' },
        dataDir: { type: 'string', minLength: 1 },
        poolSize: { type: 'integer', minimum: 1, maximum: 1000 },
        migrate: { type: 'boolean' },
        debug: { type: 'boolean' },
      },
    },
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        bodyLimitBytes: { type: 'integer', minimum: 1024 },
        headersTimeoutMs: { type: 'integer', minimum: 100 },
        keepAliveTimeoutMs: { type: 'integer', minimum: 100 },
        requestTimeoutMs: { type: 'integer', minimum: 0 },
        trustProxy: { anyOf: [{ type: 'boolean' }, { type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        drainTimeoutMs: { type: 'integer', minimum: 0 },
        maxJsonDepth: { type: 'integer', minimum: 2, maximum: 1000 },
      },
    },
    providers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'kind'],
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
          kind: { enum: ['openai', 'anthropic', 'mock'] },
          baseUrl: { type: 'string', pattern: '^https?://' },
          apiKey: { type: 'string' },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          timeouts: {
            type: 'object',
            additionalProperties: false,
            properties: { connectMs: { type: 'integer', minimum: 1 }, headersMs: { type: 'integer', minimum: 1 }, bodyIdleMs: { type: 'integer', minimum: 1 } },
          },
          connections: { type: 'integer', minimum: 1 },
        },
      },
    },
    models: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'provider'],
        properties: {
          name: { type: 'string', minLength: 1 },
          provider: { type: 'string', minLength: 1 },
          upstreamModel: { type: 'string', minLength: 1 },
          available: { type: 'boolean' },
          prices,
          marketPrices: prices,
          contextWindow: { type: 'integer', minimum: 1 },
        },
      },
    },
    security: {
      type: 'object',
      additionalProperties: false,
      properties: {
        providerKeyEncryptionKey: { type: 'string', minLength: 44 },
        apiKeyCacheTtlMs: { type: 'integer', minimum: 0 },
      },
    },
    usage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        batchSize: { type: 'integer', minimum: 1 },
        flushIntervalMs: { type: 'integer', minimum: 10 },
        maxQueue: { type: 'integer', minimum: 1 },
      },
    },
    invitations: {
      type: 'object',
      additionalProperties: false,
      properties: { acceptUrl: { type: 'string' }, ttlDays: { type: 'integer', minimum: 1, maximum: 365 } },
    },
    metrics: { type: 'object', additionalProperties: false, properties: { defaultMetrics: { type: 'boolean' } } },
  },
} as const
