import type { Logger } from 'pino'
import { within } from '../util/within.js'

/** How long a shutdown step may take. */
export interface ShutdownStepOptions {
  /** Warn with the step's name this often while it has not finished (ms). */
  warnEveryMs?: number
  /**
   * Stop waiting after this long (ms): log an error naming the step and go on with the next one.
   * The step keeps running in the background; what it had not done by then is lost, which a
   * shutdown that never ends would lose as well. Unset: wait as long as it takes.
   */
  giveUpAfterMs?: number
}

/**
 * Runs one step of a shutdown, warning with the step's name every `warnEveryMs` while it has not
 * finished: a shutdown that hangs (a query that never returns, a connection never released) says
 * what it is waiting for instead of going quiet until something kills the process. With
 * `giveUpAfterMs` the step is bounded: resolves `undefined` after that long, so the steps after
 * it (closing the database pool, which ends stuck connections) still run.
 */
export async function shutdownStep<T>(log: Logger, step: string, run: () => Promise<T> | T, options: ShutdownStepOptions = {}): Promise<T | undefined> {
  const started = Date.now()
  const warn = setInterval(() => log.warn({ step, waitingMs: Date.now() - started }, `shutdown: still waiting for ${step}`), options.warnEveryMs ?? 10_000)
  warn.unref()
  try {
    const running = Promise.resolve().then(run)
    if (options.giveUpAfterMs === undefined) return await running
    const result = await within(running, options.giveUpAfterMs)
    if (result.done) return result.value
    log.error({ step, waitedMs: Date.now() - started }, `shutdown: gave up waiting for ${step}`)
    return undefined
  } finally {
    clearInterval(warn)
  }
}
