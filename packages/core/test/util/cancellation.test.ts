import t from 'tap'
import { Cancellation } from '../../src/util/cancellation.ts'

t.test('abort runs each listener once, keeps the reason, and ignores a second abort', async (t) => {
  const c = new Cancellation()
  const calls: string[] = []
  c.addListener(() => calls.push('a'))
  const remove = c.onAbort(() => calls.push('b'))
  c.onAbort(() => calls.push('c'))
  remove()
  t.equal(c.aborted, false)
  const reason = new Error('gone')
  c.abort(reason)
  c.abort(new Error('again'))
  t.same(calls, ['a', 'c'], 'removed listener skipped, the others ran once, in order')
  t.equal(c.aborted, true)
  t.equal(c.reason, reason, 'the first reason stays')
  c.onAbort(() => calls.push('late'))
  t.same(calls, ['a', 'c', 'late'], 'a listener added after the abort runs at once')
})

t.test('the default reason is an AbortError DOMException', async (t) => {
  const c = new Cancellation()
  c.abort()
  t.ok(c.reason instanceof DOMException)
  t.equal((c.reason as DOMException).name, 'AbortError')
})

t.test('the AbortSignal view follows the cancellation, whether made before or after the abort', async (t) => {
  const before = new Cancellation()
  const signal = before.signal
  t.equal(signal, before.signal, 'made once')
  let fired = 0
  signal.addEventListener('abort', () => fired++)
  const reason = new Error('client gone')
  before.abort(reason)
  t.equal(signal.aborted, true)
  t.equal(signal.reason, reason)
  t.equal(fired, 1)

  const after = new Cancellation()
  after.abort(reason)
  t.equal(after.signal.aborted, true, 'a signal made after the abort is already aborted')
  t.equal(after.signal.reason, reason)
})

t.test('a child aborts with its parent (and its reason) until unlinked', async (t) => {
  const parent = new Cancellation()
  const linked = parent.child()
  const unlinked = parent.child()
  unlinked.unlink()
  const own = parent.child()
  own.cancellation.abort(new Error('timeout'))
  const reason = new Error('client gone')
  parent.abort(reason)
  t.equal(linked.cancellation.aborted, true)
  t.equal(linked.cancellation.reason, reason)
  t.equal(unlinked.cancellation.aborted, false, 'unlinked child untouched')
  t.equal((own.cancellation.reason as Error).message, 'timeout', 'a child aborted on its own keeps its reason')
  t.equal(parent.child().cancellation.aborted, true, 'a child of an aborted parent starts aborted')
})

t.test('the undici view has no `aborted` property and delivers the abort to its listeners', async (t) => {
  const c = new Cancellation()
  const view = c.undiciSignal
  t.notOk('aborted' in view, 'undici sends objects with `aborted` to the AbortSignal-only helper')
  let fired = 0
  const fn = () => fired++
  view.once('abort', fn)
  view.once('abort', () => fired++)
  view.removeListener('abort', fn)
  c.abort(new Error('x'))
  t.equal(fired, 1)
  t.equal((view.reason as Error).message, 'x')
})
