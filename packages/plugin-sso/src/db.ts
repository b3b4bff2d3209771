import type { Database } from '@tollgate/core'

/** An EntityManager (a fork or a transaction's). */
export type Em = Database['orm']['em']

/** Rows of a statement outside any transaction. */
export function query<T>(db: Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return db.orm.em.fork().execute<T[]>(sql, params, 'all')
}

/** Rows of a statement inside a transaction. */
export function rows<T>(em: Em, sql: string, params: unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(sql, params, 'all')
}

/** Runs `fn` in a transaction. */
export function transaction<T>(db: Database, fn: (em: Em) => Promise<T>): Promise<T> {
  return db.orm.em.fork().transactional(fn)
}

/** A timestamp column as a Date (drivers return strings or Dates). */
export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value)
}

/** A jsonb column as a value (drivers return parsed JSON or text). */
export function jsonOf<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True for a syntactically valid UUID (a bad id is a 404, not a driver error). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value)
}
