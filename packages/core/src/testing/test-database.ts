import { cp, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DatabaseOptions } from '../data/database.js'

/** A database for one test (or test file) and how to get rid of it. */
export interface TestDatabase {
  options: DatabaseOptions
  /** Where it lives: a PGlite folder or a PostgreSQL database name. */
  name: string
  drop(): Promise<void>
  /**
   * What the database server is doing now, as text for a test's output: every backend of this
   * database and every one waiting on anything (PostgreSQL only; empty on PGlite). For a test
   * whose teardown stalls.
   */
  activity(): Promise<string>
}

const TEMPLATE = join(tmpdir(), 'tollgate-pglite-template-v1')

/**
 * An initialised, empty PGlite data folder, made once per machine and copied for each test:
 * initdb costs ~4 s and ~1.2 GB of memory, a copy ~0.5 s. Made under a temporary name and
 * renamed into place, so parallel test processes never see half a template.
 */
async function pgliteTemplate(): Promise<string> {
  try {
    await stat(join(TEMPLATE, 'PG_VERSION'))
    return TEMPLATE
  } catch {}
  const building = await mkdtemp(join(tmpdir(), 'tollgate-pglite-building-'))
  const { MikroORM } = await import('@mikro-orm/pglite')
  const orm = await MikroORM.init({ dbName: building, entities: [], discovery: { warnWhenNoEntities: false } } as never)
  await orm.em.fork().execute('select 1', [], 'all')
  await orm.close()
  try {
    await rename(building, TEMPLATE)
  } catch {
    await rm(building, { recursive: true, force: true })
  }
  return TEMPLATE
}

/**
 * A fresh database: on PostgreSQL when DATABASE_URL is set (a new database named tg_t_<random>,
 * dropped by `drop`), otherwise a PGlite folder copied from the template.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = process.env.DATABASE_URL
  if (url) {
    const name = `tg_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    const pg = (await import('pg')).default
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    await admin.query(`create database ${name}`)
    await admin.end()
    const u = new URL(url)
    u.pathname = `/${name}`
    const activity = async (): Promise<string> => {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      try {
        const { rows } = await c.query(
          `select pid, datname, state, wait_event_type, wait_event, backend_type,
                  extract(epoch from now() - xact_start)::int as xact_s, extract(epoch from now() - query_start)::int as query_s, left(query, 200) as query
             from pg_stat_activity
            where pid <> pg_backend_pid() and (datname = $1 or (wait_event_type is not null and (wait_event_type not in ('Activity', 'Client') or wait_event = 'ClientWrite')))
            order by xact_start nulls last`,
          [name],
        )
        return rows.map((r) => JSON.stringify(r)).join('\n')
      } finally {
        await c.end()
      }
    }
    return {
      options: { url: u.toString(), poolSize: 5 },
      name,
      async drop() {
        // DROP DATABASE waits for every backend of the server to acknowledge it, and a backend
        // blocked writing to a client that is not reading never does. Bounded: a timeout writes
        // what the server was doing to stderr and tries once more, then fails the teardown
        // instead of hanging it until the runner's timeout.
        for (let attempt = 1; ; attempt++) {
          const c = new pg.Client({ connectionString: url, statement_timeout: 60_000 })
          await c.connect()
          try {
            await c.query(`drop database if exists ${name} with (force)`)
            return
          } catch (err) {
            if ((err as { code?: string }).code !== '57014' || attempt === 2) throw err
            process.stderr.write(`test database ${name}: drop timed out (attempt ${attempt}); server activity:\n${await activity().catch(() => '')}\n`)
          } finally {
            await c.end()
          }
        }
      },
      activity,
    }
  }
  const template = await pgliteTemplate()
  const base = join(tmpdir(), 'tollgate-test-dbs')
  await mkdir(base, { recursive: true })
  const dir = await mkdtemp(join(base, 'db-'))
  await cp(template, dir, { recursive: true })
  return {
    options: { dataDir: dir },
    name: dir,
    drop: () => rm(dir, { recursive: true, force: true }),
    activity: async () => '',
  }
}
