import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'

/**
 * The server's log destination: buffered lines still reach standard output on a quiet server
 * (the flush timer) and on exit, and LOG_SYNC's synchronous mode writes them at once.
 */
const ROOT = new URL('../../../', import.meta.url).pathname
const NODE = join(ROOT, 'node_modules/.bin/node')

function child(mode: 'sync' | 'buffered', action: 'exit' | 'wait') {
  const proc = spawn(NODE, ['--import', './test-support/tsx-register.mjs', '--conditions=tollgate-src', 'apps/reference-server/test/log-destination-child.ts', mode, action], { cwd: ROOT })
  let stdout = ''
  const lines: Promise<string[]> = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      stdout += d
      // A line left in the buffer never arrives: the child kills itself after 10 s and the test fails.
      if (action === 'wait' && stdout.includes('\n')) resolve(stdout.trim().split('\n'))
    })
    proc.on('error', reject)
    proc.on('close', (code) => (action === 'exit' && code === 0 ? resolve(stdout.trim().split('\n')) : reject(new Error(`child ended with ${code}, stdout: ${stdout}`))))
  })
  return { lines, kill: () => proc.kill() }
}

for (const mode of ['buffered', 'sync'] as const) {
  t.test(`${mode}: a quiet server's line is written without more lines behind it`, async (t) => {
    const c = child(mode, 'wait')
    t.teardown(() => c.kill())
    const [line] = await c.lines
    t.match(JSON.parse(line), { msg: 'first line', n: 1 })
  })

  t.test(`${mode}: lines logged just before exit are written`, async (t) => {
    const lines = await child(mode, 'exit').lines
    t.same(
      lines.map((l) => JSON.parse(l).msg),
      ['first line', 'last line before exit'],
    )
  })
}
