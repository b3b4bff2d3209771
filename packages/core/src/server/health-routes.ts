import type { FastifyInstance } from 'fastify'
import type { Database } from '../data/database.js'
import type { InflightTracker } from '../pipeline/inflight.js'

/** `/health`: the process is up. `/ready`: it accepts traffic (database answers, not draining). */
export function registerHealthRoutes(app: FastifyInstance, db: Database, inflight: InflightTracker): void {
  app.get('/health', async () => ({ status: 'ok' }))
  app.get('/ready', async (_request, reply) => {
    if (inflight.draining) return reply.code(503).send({ status: 'draining' })
    try {
      await db.orm.em.fork().execute('select 1', [], 'all')
    } catch {
      return reply.code(503).send({ status: 'database unavailable' })
    }
    return { status: 'ready', inflight: inflight.count }
  })
}
