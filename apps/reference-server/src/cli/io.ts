/** Where a CLI run reads and writes: the process by default, buffers in tests. */
export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
  env: NodeJS.ProcessEnv
  cwd: string
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); a second signal calls `onForce`. */
  waitForStop(onForce: () => void): Promise<string>
}

/** The process's own stdio, environment and signals. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(`${text}\n`),
    stderr: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
    cwd: process.cwd(),
    waitForStop: (onForce) =>
      new Promise((resolve) => {
        let stopping = false
        const onSignal = (signal: NodeJS.Signals) => {
          if (stopping) {
            onForce()
            return
          }
          stopping = true
          resolve(signal)
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
      }),
  }
}
