import type { Logger } from 'pino'

/**
 * Runs one step of a shutdown, warning with the step's name every `warnEveryMs` while it has not
 * finished: a shutdown that hangs (a query that never returns, a connection never released) says
 * what it is waiting for instead of going quiet until something kills the process.
 */
export async function shutdownStep<T>(log: Logger, step: string, run: () => Promise<T> | T, warnEveryMs = 10_000): Promise<T> {
  const started = Date.now()
  const timer = setInterval(() => log.warn({ step, waitingMs: Date.now() - started }, `shutdown: still waiting for ${step}`), warnEveryMs)
  timer.unref()
  try {
    return await run()
  } finally {
    clearInterval(timer)
  }
}
