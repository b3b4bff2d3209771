import { startServer } from '../../server.js'
import type { CliIo } from '../io.js'
import type { CliOptions } from '../run-cli.js'

/**
 * `tollgate start`: starts the server and keeps it running until SIGINT or SIGTERM, then closes
 * it gracefully (in-flight requests drain, usage is flushed, the database closes). A second
 * signal during the drain exits at once with 130.
 */
export async function startCommand(options: CliOptions, io: CliIo): Promise<number> {
  const server = await startServer({ load: { configPath: options.config, env: io.env, cwd: io.cwd }, print: io.stdout })
  const signal = await io.waitForStop(() => {
    io.stderr('tollgate: second signal, exiting without waiting for the drain')
    process.exit(130)
  })
  server.logger.info({ signal }, 'shutting down: draining in-flight requests')
  await server.close()
  server.logger.info('stopped')
  return 0
}
