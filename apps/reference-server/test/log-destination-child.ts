// Child process of log-destination.test.ts: logs through the server's destination, as told by argv.
import { pino } from 'pino'
import { logDestination } from '../src/log-destination.ts'

const [mode, action] = process.argv.slice(2)
const logger = pino({ level: 'info' }, logDestination({ sync: mode === 'sync' }))
logger.info({ n: 1 }, 'first line')
if (action === 'exit') {
  logger.info({ n: 2 }, 'last line before exit')
  process.exit(0)
}
// Stay alive (bounded) until the parent has read the line and kills us; past that, die without
// flushing (as a killed server would), so a line that only an exit would write never arrives.
setTimeout(() => process.kill(process.pid, 'SIGKILL'), 10_000)
