import type { ModelConfig } from '../catalog/model-catalog.js'
import type { DatabaseOptions } from '../data/database.js'
import type { ProviderConfig } from '../providers/provider.js'
import { attributesSchema, deploymentIdSchema, deploymentInputSchema, rateLimitsSchema, routingPolicySchema } from '../routing/routing-policy.js'
import type { DeploymentInput, RoutingPolicy } from '../routing/routing-types.js'
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
    /**
     * How long shutdown waits for each later step (a plugin's onClose hook, worker runs, the usage
     * writer's last flush, the database connections still in use) before it goes on without it,
     * ms (default 30000). A step it gave up on is logged as an error naming it.
     */
    closeStepTimeoutMs?: number
    /** Largest nesting depth accepted in a JSON body. */
    maxJsonDepth?: number
  }
  /** Upstream providers. A `mock` provider is always available for trying the gateway without a vendor key. */
  providers?: ProviderConfig[]
  /** Catalog models seeded into the database at startup (existing ones are left as edited). */
  models?: ModelConfig[]
  routing?: {
    /** The global routing policy (the platform administrators' stored global policy overrides it field by field). */
    policy?: RoutingPolicy
    /** Deployments seeded into the database at startup (existing ones are left as edited). */
    deployments?: (DeploymentInput & { id: string; model: string })[]
    /** How often routing state changed on other instances is picked up, ms (default 10 000). */
    refreshMs?: number
  }
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
  /** Prometheus metrics: served on `/metrics` of the gateway's listener unless `port` gives them their own. */
  metrics?: {
    /** Also export prom-client's process and Node.js metrics (default false in core). */
    defaultMetrics?: boolean
    /** Serve the exposition at all (default true). */
    endpoint?: boolean
    /** Path of the exposition (default /metrics). */
    path?: string
    /** When set, scrapes must send `Authorization: Bearer <token>`. */
    token?: string
    /** Serve the metrics on their own listener at this port (0 picks one) instead of the gateway's. */
    port?: number
    /** Interface of that listener (default 127.0.0.1). */
    host?: string
    /** At most this many distinct catalog models become `model` label values; the rest are `other` (default 100). */
    maxModelLabels?: number
  }
  /** One structured log line per proxied request (pino, level info, credentials redacted). */
  accessLog?: {
    /** Default true. */
    enabled?: boolean
    /** Also log the request headers, credentials redacted (default false). */
    headers?: boolean
  }
  /** OpenTelemetry spans through @opentelemetry/api; recorded only when the host registers an SDK. */
  tracing?: {
    /** Default true. */
    enabled?: boolean
  }
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
        closeStepTimeoutMs: { type: 'integer', minimum: 0 },
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
          enabled: { type: 'boolean' },
          attributes: attributesSchema,
          region: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' },
          limits: rateLimitsSchema,
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
          maxOutputTokens: { type: 'integer', minimum: 1 },
        },
      },
    },
    routing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        policy: routingPolicySchema,
        deployments: {
          type: 'array',
          items: {
            ...deploymentInputSchema,
            required: ['id', 'model', 'provider'],
            properties: { ...deploymentInputSchema.properties, id: deploymentIdSchema, model: { type: 'string', minLength: 1 } },
          },
        },
        refreshMs: { type: 'integer', minimum: 100 },
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
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        defaultMetrics: { type: 'boolean' },
        endpoint: { type: 'boolean' },
        path: { type: 'string', pattern: '^/[A-Za-z0-9/_.-]*$' },
        token: { type: 'string', minLength: 16 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        host: { type: 'string', minLength: 1 },
        maxModelLabels: { type: 'integer', minimum: 1, maximum: 10000 },
      },
    },
    accessLog: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, headers: { type: 'boolean' } } },
    tracing: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' } } },
  },
} as const
