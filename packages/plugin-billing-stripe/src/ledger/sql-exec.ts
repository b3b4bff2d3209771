import type { TxEntityManager } from '@tollgate/core'
import { CompiledQuery } from 'kysely'

/**
 * Runs SQL with `$n` placeholders as a prepared statement through the EntityManager's Kysely
 * instance (bound to its transaction, if any). MikroORM's `execute` inlines parameters into the
 * SQL text, which for the settlement path's large JSON batches costs more CPU than the write
 * itself; bound parameters travel as they are.
 */
export async function sql<R>(em: TxEntityManager, text: string, params: readonly unknown[]): Promise<R[]> {
  const kysely = (em as unknown as { getKysely(): { executeQuery(q: CompiledQuery): Promise<{ rows: unknown[] }> } }).getKysely()
  const result = await kysely.executeQuery(CompiledQuery.raw(text, [...params]))
  return result.rows as R[]
}
