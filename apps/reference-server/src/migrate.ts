import { CORE_ENTITIES, CORE_MIGRATIONS, migrateDatabase, openDatabase, type PluginInstance } from '@tollgate/core'
import type { Logger } from 'pino'
import type { ServerConfig } from './config/index.js'
import { lockEmbeddedDatabase } from './embedded-lock.js'
import { bundledPlugins } from './plugins.js'

/** Plugins ordered so each comes after the plugins it depends on (the order their migrations must run in). */
export function orderByDependencies(plugins: PluginInstance<any>[]): PluginInstance<any>[] {
  const byId = new Map(plugins.map((p) => [p.definition.id, p]))
  const done = new Set<string>()
  const out: PluginInstance<any>[] = []
  const visit = (p: PluginInstance<any>, seen: Set<string>) => {
    if (done.has(p.definition.id) || seen.has(p.definition.id)) return
    seen.add(p.definition.id)
    for (const dep of p.definition.dependencies ?? []) {
      const d = byId.get(dep)
      if (d) visit(d, seen)
    }
    done.add(p.definition.id)
    out.push(p)
  }
  for (const p of plugins) visit(p, new Set())
  return out
}

/**
 * Runs the pending migrations of core and of the plugins the config switches on (plus `extra`),
 * without building the rest of the gateway, and returns the names applied. Takes the embedded
 * database's lock while it runs.
 */
export async function runMigrations(config: ServerConfig, log: Logger, extra: PluginInstance<any>[] = []): Promise<string[]> {
  const embedded = !config.database?.url && config.database?.dataDir && !config.database.dataDir.startsWith('memory://')
  const lock = embedded ? await lockEmbeddedDatabase(config.database?.dataDir as string) : undefined
  try {
    const plugins = orderByDependencies([...(await bundledPlugins(config.plugins ?? {})), ...extra])
    const entities = [...CORE_ENTITIES, ...plugins.flatMap((p) => p.definition.entities ?? [])]
    const migrations = [...CORE_MIGRATIONS, ...plugins.flatMap((p) => p.definition.migrations ?? [])]
    const db = await openDatabase(config.database ?? {}, entities, migrations, log)
    try {
      return await migrateDatabase(db)
    } finally {
      await db.close()
    }
  } finally {
    await lock?.release()
  }
}
