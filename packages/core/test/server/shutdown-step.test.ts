import pino from 'pino'
import t from 'tap'
import { shutdownStep } from '../../src/server/shutdown-step.js'

/** A logger that keeps its lines. */
function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) })
  return { log, lines }
}

t.test('a step that takes long is named in a warning while it waits, and its result comes back', async (t) => {
  const { log, lines } = capture()
  const result = await shutdownStep(log, 'the database pool', () => new Promise((r) => setTimeout(() => r('done'), 120)), { warnEveryMs: 25 })
  t.equal(result, 'done')
  t.ok(lines.length >= 2, `warned while waiting (${lines.length} times)`)
  t.match(lines[0], { level: 40, step: 'the database pool', msg: 'shutdown: still waiting for the database pool' })
  const count = lines.length
  await new Promise((r) => setTimeout(r, 80))
  t.equal(lines.length, count, 'no warning after the step finished')
})

t.test('a quick step says nothing; a failing one rejects with its own error and stops warning', async (t) => {
  const { log, lines } = capture()
  await shutdownStep(log, 'quick', () => undefined, { warnEveryMs: 25 })
  await t.rejects(shutdownStep(log, 'failing', () => new Promise((_, reject) => setTimeout(() => reject(new Error('boom')), 60)), { warnEveryMs: 25 }), { message: 'boom' })
  const count = lines.length
  t.ok(lines.every((l) => l.step === 'failing'), 'only the slow step was named')
  await new Promise((r) => setTimeout(r, 80))
  t.equal(lines.length, count, 'no warning after the step failed')
})

t.test('a bounded step that hangs is given up: named in an error, and the shutdown goes on', async (t) => {
  const { log, lines } = capture()
  const never = new Promise<string>(() => undefined)
  const result = await shutdownStep(log, 'a stuck hook', () => never, { warnEveryMs: 20, giveUpAfterMs: 90 })
  t.equal(result, undefined, 'resolved without the step')
  t.match(lines.at(-1), { level: 50, step: 'a stuck hook', msg: 'shutdown: gave up waiting for a stuck hook' })
  t.ok(lines.slice(0, -1).every((l) => l.level === 40), 'warned while it waited')
  const count = lines.length
  await new Promise((r) => setTimeout(r, 60))
  t.equal(lines.length, count, 'nothing logged after giving up')
  t.equal(await shutdownStep(log, 'quick', async () => 7, { giveUpAfterMs: 1000 }), 7, 'a bounded step that finishes gives its result')
  let late = false
  await shutdownStep(log, 'fails late', () => new Promise((_, reject) => setTimeout(() => { late = true; reject(new Error('late')) }, 40)), { giveUpAfterMs: 10 })
  await new Promise((r) => setTimeout(r, 60))
  t.ok(late, 'a step that fails after it was given up rejects unobserved, without an unhandled rejection')
})
