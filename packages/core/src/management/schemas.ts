import { ROLES } from '../context/principal.js'

/**
 * JSON Schema fragments of the management API: request parts are validated with them (ajv) and
 * responses serialized with them, and @fastify/swagger turns both into the OpenAPI document.
 */

/** A resource id. */
export const uuid = { type: 'string', format: 'uuid' } as const

/** A timestamp. */
export const dateTime = { type: 'string', format: 'date-time' } as const

/** A timestamp or null. */
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const

/** A role. */
export const role = { type: 'string', enum: [...ROLES] } as const

/** A display name. */
export const displayName = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' } as const

/** An error body: `{ error: { code, message, field? } }`. */
export const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' }, requestId: { type: 'string' } },
    },
  },
} as const

const errorResponses = {
  400: { description: 'Invalid request (the error names the field)', ...errorBody },
  401: { description: 'Missing or invalid credentials', ...errorBody },
  403: { description: 'Role too low, or a role escalation', ...errorBody },
  404: { description: 'No such resource in an organization you belong to', ...errorBody },
  409: { description: 'Conflicts with existing data', ...errorBody },
} as const

/** Response schemas: the given successes plus the management error shape for 4xx. */
export function responses<T extends Record<number, object>>(success: T): T & typeof errorResponses {
  return { ...errorResponses, ...success }
}

/** `204 No Content`. */
export const noContent = { 204: { description: 'Done', type: 'null' } } as const

/** A list response: `{ data: [...] }`. */
export function listOf<T extends object>(item: T) {
  return { type: 'object', required: ['data'], properties: { data: { type: 'array', items: item } } } as const
}

/** Path params holding one id each. */
export function idParams<const K extends string>(...names: K[]) {
  return { type: 'object', required: names, additionalProperties: false, properties: Object.fromEntries(names.map((n) => [n, uuid])) as Record<K, typeof uuid> }
}

/** An organization. */
export const organization = {
  type: 'object',
  required: ['id', 'name', 'slug', 'personal', 'createdAt'],
  properties: { id: uuid, name: { type: 'string' }, slug: { type: 'string' }, personal: { type: 'boolean' }, createdAt: dateTime, role },
} as const

/** A project. */
export const project = {
  type: 'object',
  required: ['id', 'organizationId', 'name', 'createdAt'],
  properties: { id: uuid, organizationId: uuid, name: { type: 'string' }, createdAt: dateTime },
} as const

/** A member. */
export const member = {
  type: 'object',
  required: ['userId', 'email', 'name', 'role', 'projectIds', 'joinedAt'],
  properties: { userId: uuid, email: { type: 'string' }, name: { type: ['string', 'null'] }, role, projectIds: { type: 'array', items: uuid }, joinedAt: dateTime },
} as const

/** An invitation (never its token). */
export const invitation = {
  type: 'object',
  required: ['id', 'organizationId', 'email', 'role', 'projectIds', 'invitedBy', 'status', 'expiresAt', 'acceptedAt', 'createdAt'],
  properties: {
    id: uuid,
    organizationId: uuid,
    email: { type: 'string' },
    role,
    projectIds: { type: 'array', items: uuid },
    invitedBy: uuid,
    status: { type: 'string', enum: ['pending', 'accepted', 'revoked', 'expired'] },
    expiresAt: dateTime,
    acceptedAt: nullableDateTime,
    createdAt: dateTime,
  },
} as const

const apiKeyProperties = {
  id: uuid,
  organizationId: uuid,
  projectId: uuid,
  ownerUserId: uuid,
  name: { type: 'string' },
  prefix: { type: 'string', description: 'The first characters of the secret, for recognising the key' },
  role,
  appName: { type: ['string', 'null'] },
  expiresAt: nullableDateTime,
  revokedAt: nullableDateTime,
  lastUsedAt: nullableDateTime,
  createdAt: dateTime,
} as const

const apiKeyRequired = ['id', 'organizationId', 'projectId', 'ownerUserId', 'name', 'prefix', 'role', 'appName', 'expiresAt', 'revokedAt', 'lastUsedAt', 'createdAt'] as const

/** An API key (never its secret). */
export const apiKey = { type: 'object', required: apiKeyRequired, properties: apiKeyProperties } as const

/** A new API key with its secret (shown once). */
export const createdApiKey = {
  type: 'object',
  required: [...apiKeyRequired, 'secret'],
  properties: { ...apiKeyProperties, secret: { type: 'string', description: 'The key; shown only now, store it safely' } },
} as const

/** A provider name. */
export const providerName = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$' } as const

/** A project's provider key: a hint, never the secret. */
export const providerKey = {
  type: 'object',
  required: ['id', 'projectId', 'provider', 'label', 'hint', 'createdBy', 'createdAt'],
  properties: { id: uuid, projectId: uuid, provider: { type: 'string' }, label: { type: ['string', 'null'] }, hint: { type: 'string' }, createdBy: uuid, createdAt: dateTime },
} as const

/**
 * A price in USD per million tokens, as a decimal string (exact; never a float). At most 12
 * integer digits: stored as microdollars in a bigint column.
 */
export const price = { type: 'string', pattern: '^\\d{1,12}(\\.\\d{1,6})?$' } as const

/** Prices of a model. */
export const prices = {
  type: 'object',
  additionalProperties: false,
  properties: { input: price, output: price, cachedRead: price, cacheWrite: price },
} as const

const fullPrices = { ...prices, required: ['input', 'output', 'cachedRead', 'cacheWrite'] } as const

/** A catalog model. */
export const catalogModel = {
  type: 'object',
  required: ['name', 'provider', 'upstreamModel', 'available', 'prices', 'marketPrices'],
  properties: {
    name: { type: 'string' },
    provider: { type: 'string' },
    upstreamModel: { type: 'string' },
    available: { type: 'boolean' },
    prices: fullPrices,
    marketPrices: fullPrices,
    contextWindow: { type: 'integer' },
    maxOutputTokens: { type: 'integer' },
  },
} as const
