import { type DestinationStream, pino } from 'pino'

/** How often buffered log lines are written out at the latest (ms). */
export const LOG_FLUSH_INTERVAL_MS = 200

/** Bytes of log lines gathered into one write. */
const LOG_BUFFER_BYTES = 4096

/**
 * Where the server's JSON log lines go: standard output (or another file descriptor).
 *
 * By default lines are gathered into 4 KB writes made off the request path (pino's asynchronous
 * destination), written out at least every 200 ms and on exit: one write per access-log line
 * cost the gateway about a tenth of its CPU per request in the core-only benchmark. A process
 * killed outright (SIGKILL, out of memory) loses what was still gathered, at most 4 KB or 200 ms
 * of lines; `logSync: true` (LOG_SYNC=true) writes every line before going on instead.
 */
export function logDestination(options: { sync: boolean; fd?: number }): DestinationStream {
  const dest = options.fd ?? 1
  if (options.sync) return pino.destination({ dest, sync: true })
  const destination = pino.destination({ dest, sync: false, minLength: LOG_BUFFER_BYTES })
  // pino flushes an asynchronous destination on exit; the timer bounds how late a quiet server's lines appear.
  const timer = setInterval(() => destination.flush(), LOG_FLUSH_INTERVAL_MS)
  timer.unref()
  destination.on('close', () => clearInterval(timer))
  return destination
}
