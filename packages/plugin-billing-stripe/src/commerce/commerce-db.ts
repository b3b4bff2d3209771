import type { Database } from '@tollgate/core'

/** An EntityManager of the gateway's database (a fork or a transaction's). */
export type Em = ReturnType<Database['orm']['em']['fork']>

/** Rows of a statement (`?` placeholders). */
export function rows<T>(em: Em, sql: string, params: unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(sql, params, 'all')
}

/** The first row of a statement, or undefined. */
export async function one<T>(em: Em, sql: string, params: unknown[] = []): Promise<T | undefined> {
  const [row] = await rows<T>(em, sql, params)
  return row
}

/** Runs `fn` in a new transaction. */
export function inTransaction<T>(db: Database, fn: (em: Em) => Promise<T>): Promise<T> {
  return db.orm.em.fork().transactional(fn as never) as Promise<T>
}

/** A fresh EntityManager for reads outside a transaction. */
export function reader(db: Database): Em {
  return db.orm.em.fork()
}

/** True for errors a retry of the whole transaction resolves (unique races, serialization, deadlock). */
export function isRetryable(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string }; message?: string }
  const code = e?.code ?? e?.cause?.code
  if (code === '23505' || code === '40001' || code === '40P01') return true
  return /duplicate key value|could not serialize|deadlock detected/i.test(String(e?.message ?? ''))
}

/** Runs a transaction, retrying up to `attempts` times when it lost a race another transaction won. */
export async function withRetry<T>(db: Database, fn: (em: Em) => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await inTransaction(db, fn)
    } catch (err) {
      if (i >= attempts || !isRetryable(err)) throw err
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 10))
    }
  }
}

/** A timestamp column as a Date. */
export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value)
}

/** A bigint column (drivers return strings or numbers). */
export function big(value: string | number | bigint | null | undefined): bigint {
  return value === null || value === undefined ? 0n : BigInt(value)
}
