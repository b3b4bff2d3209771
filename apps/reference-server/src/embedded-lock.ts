import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ConfigError } from './config/index.js'

/** A held lock on an embedded database folder. */
export interface EmbeddedLock {
  readonly file: string
  release(): Promise<void>
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the lock file beside an embedded (PGlite) database folder. PGlite runs inside one
 * process; a second process opening the same folder would corrupt it, so a server and a CLI
 * command never open it at once. A lock left by a process that no longer runs is taken over.
 */
export async function lockEmbeddedDatabase(dataDir: string): Promise<EmbeddedLock> {
  const file = `${dataDir.replace(/[\\/]+$/, '')}.lock`
  await mkdir(dirname(file), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600)
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      let released = false
      return {
        file,
        release: async () => {
          if (released) return
          released = true
          await unlink(file).catch(() => undefined)
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number.parseInt((await readFile(file, 'utf8').catch(() => '')).trim(), 10)
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ConfigError(
          `the embedded database at ${dataDir} is in use by process ${pid} (lock file ${file}). ` +
            'Stop that process first, or use PostgreSQL (DATABASE_URL) to run several processes on one database.',
        )
      }
      if (pid === process.pid) throw new ConfigError(`the embedded database at ${dataDir} is already open in this process`)
      await unlink(file).catch(() => undefined)
    }
  }
  throw new ConfigError(`could not take the lock file ${file}`)
}
