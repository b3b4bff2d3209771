/** JSON Schema of a guardrail policy (plugin config `defaults` and the management API body). */
const action = { type: 'string', enum: ['block', 'warn', 'redact'] } as const
const id = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' } as const

export const policySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rules: {
      type: 'object',
      maxProperties: 200,
      propertyNames: { pattern: '^(?:\\*|[a-z]+\\.\\*|[a-z]+\\.[a-z0-9_.\\-]+)$', maxLength: 100 },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { action: { type: 'string', enum: ['block', 'warn', 'redact', 'off'] }, input: { type: 'boolean' }, output: { type: 'boolean' } },
      },
    },
    injectionThreshold: { type: 'number', minimum: 0.5, maximum: 50 },
    blockedTerms: {
      type: 'object',
      additionalProperties: false,
      required: ['terms', 'action'],
      properties: { terms: { type: 'array', maxItems: 5000, items: { type: 'string', minLength: 1, maxLength: 200 } }, action },
    },
    customRegexes: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'pattern', 'action'],
        properties: {
          id,
          pattern: { type: 'string', minLength: 1, maxLength: 1000 },
          caseInsensitive: { type: 'boolean' },
          action,
          placeholder: { type: 'string', minLength: 1, maxLength: 64 },
          maxLength: { type: 'integer', minimum: 1, maximum: 1024 },
        },
      },
    },
    topics: {
      type: 'object',
      additionalProperties: false,
      required: ['mode', 'topics', 'action'],
      properties: {
        mode: { type: 'string', enum: ['allow', 'deny'] },
        action,
        topics: {
          type: 'array',
          minItems: 1,
          maxItems: 100,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'keywords'],
            properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, keywords: { type: 'array', minItems: 1, maxItems: 500, items: { type: 'string', minLength: 1, maxLength: 100 } } },
          },
        },
      },
    },
    documents: {
      type: 'array',
      maxItems: 200,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id,
          /** The document's text: fingerprinted when saved, never stored. */
          text: { type: 'string', minLength: 1, maxLength: 2_000_000 },
          fingerprints: { type: 'array', maxItems: 200_000, items: { type: 'string', pattern: '^[0-9a-f]{1,14}$' } },
        },
      },
    },
  },
} as const

/** JSON Schema of the plugin's config. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** The gateway-wide default policy (organizations and projects override it). */
    defaults: policySchema,
    /** Regions tried for phone numbers written without a country code (ISO 3166 alpha-2). */
    phoneRegions: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Z]{2}$' } },
    /** How often queued violations are written, ms. */
    violationFlushMs: { type: 'integer', minimum: 1, maximum: 60_000, default: 250 },
    /** How often each instance reloads policies changed by another instance, ms (0: never). */
    policyRefreshMs: { type: 'integer', minimum: 0, default: 10_000 },
    /**
     * Longest answer text held back in a stream while a match keeps growing (UTF-16 units). At
     * least the longest match a system rule can make (a 16 KB private key block), so a held
     * match always completes before it is forced out.
     */
    maxStreamHold: { type: 'integer', minimum: 20_000, maximum: 1_048_576, default: 32_768 },
    /** Prompt texts whose findings are remembered per compiled policy (0: scan every text every time). */
    scanCacheEntries: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 4096 },
  },
} as const
