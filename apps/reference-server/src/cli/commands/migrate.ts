import { pino } from 'pino'
import { loadConfig } from '../../config/index.js'
import { runMigrations } from '../../migrate.js'
import type { CliIo } from '../io.js'
import type { CliOptions } from '../run-cli.js'
import { quietLevel } from './quiet-level.js'

/** `tollgate migrate`: runs pending migrations of core and the enabled plugins, prints their names. */
export async function migrateCommand(options: CliOptions, io: CliIo): Promise<number> {
  const { config } = await loadConfig({ configPath: options.config, env: io.env, cwd: io.cwd })
  const applied = await runMigrations(config, pino({ level: quietLevel(io.env) }))
  io.stdout(applied.length === 0 ? 'The database is up to date: no pending migrations.' : `Applied ${applied.length} migration(s):\n${applied.map((n) => `  ${n}`).join('\n')}`)
  return 0
}
