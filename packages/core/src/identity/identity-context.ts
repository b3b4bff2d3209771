import type { Logger } from 'pino'
import type { Database } from '../data/database.js'
import type { EventBus, EventMeta } from '../events/event-bus.js'
import type { ApiKeyAuthenticator } from './api-key-authenticator.js'
import type { InvitationSender } from './invitation-sender.js'
import type { ProviderKeyCache } from './provider-key-cache.js'
import type { ProviderKeyCipher } from './provider-key-cipher.js'
import type { Actor } from './identity-types.js'

/** An EntityManager of the database (a fork or a transaction's). */
export type Em = Database['orm']['em']

/** What the identity modules share: the database, the event bus and the caches to invalidate. */
export interface IdentityContext {
  db: Database
  events: EventBus
  apiKeys: ApiKeyAuthenticator
  cipher: ProviderKeyCipher
  providerKeys: ProviderKeyCache
  invitationSender: InvitationSender
  invitations: { acceptUrl: string; ttlDays: number }
  log: Logger
}

/** Runs a query outside any transaction. */
export function query<T>(ctx: IdentityContext, sql: string, params: unknown[] = []): Promise<T[]> {
  return ctx.db.orm.em.fork().execute<T[]>(sql, params, 'all')
}

/** Runs `fn` in a transaction; events emitted with its `em` commit or roll back with it. */
export function transaction<T>(ctx: IdentityContext, fn: (em: Em) => Promise<T>): Promise<T> {
  return ctx.db.orm.em.fork().transactional(fn)
}

/** Rows of a statement run in a transaction. */
export function rows<T>(em: Em, sql: string, params: unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(sql, params, 'all')
}

/** Event metadata for a change: organization, actor, origin, and the transaction's EntityManager. */
export function eventMeta(actor: Actor | undefined, organizationId: string | undefined, em: Em): Partial<EventMeta> {
  return {
    organizationId,
    actor: actor ? (actor.apiKeyId ? { type: 'api_key', id: actor.apiKeyId } : { type: 'user', id: actor.userId }) : { type: 'system', id: 'system' },
    ip: actor?.ip,
    userAgent: actor?.userAgent,
    em,
  }
}

/** A timestamp column as a Date (drivers return strings or Dates). */
export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value)
}

/** A nullable timestamp column as a Date or null. */
export function toDateOrNull(value: Date | string | null | undefined): Date | null {
  return value === null || value === undefined ? null : toDate(value)
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True for a syntactically valid UUID (checked before a lookup, so a bad id is a 404, not a driver error). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value)
}

/** A jsonb column of string ids as an array (drivers return parsed JSON or text). */
export function idList(value: unknown): string[] {
  const parsed = typeof value === 'string' ? JSON.parse(value) : value
  return Array.isArray(parsed) ? parsed.map(String) : []
}
