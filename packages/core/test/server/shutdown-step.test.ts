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
  const result = await shutdownStep(log, 'the database pool', () => new Promise((r) => setTimeout(() => r('done'), 120)), 25)
  t.equal(result, 'done')
  t.ok(lines.length >= 2, `warned while waiting (${lines.length} times)`)
  t.match(lines[0], { level: 40, step: 'the database pool', msg: 'shutdown: still waiting for the database pool' })
  const count = lines.length
  await new Promise((r) => setTimeout(r, 80))
  t.equal(lines.length, count, 'no warning after the step finished')
})

t.test('a quick step says nothing; a failing one rejects with its own error and stops warning', async (t) => {
  const { log, lines } = capture()
  await shutdownStep(log, 'quick', () => undefined, 25)
  await t.rejects(shutdownStep(log, 'failing', () => new Promise((_, reject) => setTimeout(() => reject(new Error('boom')), 60)), 25), { message: 'boom' })
  const count = lines.length
  t.ok(lines.every((l) => l.step === 'failing'), 'only the slow step was named')
  await new Promise((r) => setTimeout(r, 80))
  t.equal(lines.length, count, 'no warning after the step failed')
})
