import type { EntitySchema, MigrationObject } from '@mikro-orm/core'
import { Migrator } from '@mikro-orm/migrations'
import type { Pool, PoolClient } from 'pg'
import type { Logger } from 'pino'
import { within } from '../util/within.js'

/** Where the data lives: PostgreSQL when a URL is given, otherwise embedded PGlite in a folder. */
export interface DatabaseOptions {
  /** postgres://… ; when set, @mikro-orm/postgresql is used. */
  url?: string
  /** PGlite data folder (embedded default). `memory://` keeps it in memory. */
  dataDir?: string
  /** Connection pool size for PostgreSQL. */
  poolSize?: number
  /** Run pending migrations when the gateway starts (default true). */
  migrate?: boolean
  /** Log SQL. */
  debug?: boolean
}

/** A MikroORM instance of either driver, typed by the parts Tollgate uses. */
export type Orm = import('@mikro-orm/postgresql').MikroORM

/** The database of a gateway: the ORM, the driver in use and the migrations of core and plugins. */
export interface Database {
  readonly orm: Orm
  readonly driver: 'postgresql' | 'pglite'
  /**
   * Closes the connections, waiting for the ones in use to be released. With
   * `endConnectionsAfterMs`, connections still in use after that long are ended (their queries
   * fail) so the close completes: a query that never returns cannot hold a shutdown forever.
   */
  close(options?: { endConnectionsAfterMs?: number }): Promise<void>
}

/** Opens the database with the given entities and migrations (not yet run). */
export async function openDatabase(options: DatabaseOptions, entities: EntitySchema<any, any>[], migrations: MigrationObject[], log?: Logger): Promise<Database> {
  const common = {
    entities,
    extensions: [Migrator],
    migrations: { migrationsList: migrations, tableName: 'tollgate_migrations', transactional: true, allOrNothing: true, silent: true, snapshot: false },
    debug: options.debug ?? false,
    allowGlobalContext: false,
    ...(log ? { logger: (message: string) => log.debug({ orm: true }, message) } : {}),
  }
  if (options.url) {
    const { MikroORM } = await import('@mikro-orm/postgresql')
    // The pool's connections, so a close that waits too long can end the ones still in use.
    const connections = new Set<PoolClient>()
    const onPoolCreated = (pool: Pool) => {
      pool.on('connect', (c) => connections.add(c))
      pool.on('remove', (c) => connections.delete(c))
    }
    const orm = (await MikroORM.init({ ...common, clientUrl: options.url, pool: { min: 0, max: options.poolSize ?? 10 }, driverOptions: { onPoolCreated } })) as unknown as Orm
    return {
      orm,
      driver: 'postgresql',
      async close({ endConnectionsAfterMs } = {}) {
        const closing = orm.close()
        if (endConnectionsAfterMs === undefined) return closing
        if ((await within(closing, endConnectionsAfterMs)).done) return
        log?.error({ connections: connections.size }, 'database: connections still in use at close; ending them')
        for (const c of connections) c.end().catch(() => undefined)
        await closing
      },
    }
  }
  const { MikroORM } = await import('@mikro-orm/pglite')
  const orm = (await MikroORM.init({ ...common, dbName: options.dataDir ?? '.tollgate-data' })) as unknown as Orm
  return { orm, driver: 'pglite', close: () => orm.close() }
}

/** Runs pending migrations; returns the names applied. */
export async function migrateDatabase(db: Database): Promise<string[]> {
  const applied = await db.orm.migrator.up()
  return applied.map((m) => m.name)
}

/** Names of migrations not yet applied. */
export async function pendingMigrations(db: Database): Promise<string[]> {
  return (await db.orm.migrator.getPending()).map((m) => m.name)
}
