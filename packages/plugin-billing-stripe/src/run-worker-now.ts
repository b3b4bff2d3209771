import { type Database, lockKeyFor, type WorkerDefinition } from '@tollgate/core'
import type { Logger } from 'pino'

/**
 * Runs a worker's turns now, on this instance, under the same cluster-wide advisory lock the
 * gateway's worker runner takes (so it never overlaps a scheduled run anywhere), until it
 * reports no more work. When another run holds the lock it waits for it.
 */
export async function runWorkerNow(db: Database, worker: WorkerDefinition, log: Logger): Promise<void> {
  const key = lockKeyFor(worker.name).toString()
  for (let i = 0; i < 1000; i++) {
    const again = await db.orm.em.fork().transactional(async (em) => {
      for (;;) {
        const [row] = await em.execute<{ locked: boolean }[]>('select pg_try_advisory_xact_lock(?::bigint) as locked', [key], 'all')
        if (row.locked) break
        // A scheduled turn is running here or elsewhere: wait for it rather than skip.
        await new Promise((r) => setTimeout(r, 20))
      }
      return (await worker.run({ em, signal: new AbortController().signal, log })) === true
    })
    if (!again) return
  }
}
