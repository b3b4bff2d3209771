import type { Database } from '@tollgate/core'

/** A database whose EntityManager forks record every execute() (SQL and parameters) before running it. */
export function recordingDatabase(db: Database): { db: Database; queries: { sql: string; params: unknown[] }[] } {
  const queries: { sql: string; params: unknown[] }[] = []
  const em = new Proxy(db.orm.em, {
    get(target, prop, receiver) {
      if (prop !== 'fork') return Reflect.get(target, prop, receiver)
      return () => {
        const forked = target.fork()
        return new Proxy(forked, {
          get(ft, fp, fr) {
            if (fp !== 'execute') return Reflect.get(ft, fp, fr)
            return (sql: string, params: unknown[] = [], ...rest: unknown[]) => {
              queries.push({ sql, params })
              return (forked.execute as (...a: unknown[]) => unknown)(sql, params, ...rest)
            }
          },
        })
      }
    },
  })
  const orm = new Proxy(db.orm, { get: (target, prop, receiver) => (prop === 'em' ? em : Reflect.get(target, prop, receiver)) })
  return { db: new Proxy(db, { get: (target, prop, receiver) => (prop === 'orm' ? orm : Reflect.get(target, prop, receiver)) }), queries }
}
