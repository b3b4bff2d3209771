import pino from 'pino'
import t from 'tap'
import { EventBus } from '@tollgate/core'

t.test('onAny: every event, filterable, transactional subscribers awaited and able to fail the emitter', async (t) => {
  const bus = new EventBus(pino({ level: 'silent' }))
  const seen: string[] = []
  const off = bus.onAny((name, payload) => void seen.push(`${name}:${JSON.stringify(payload)}`), { transactional: true, filter: (name) => !name.startsWith('usage.') })
  t.equal(bus.has('project.created'), true, 'a wildcard subscriber counts for has()')
  t.equal(bus.has('usage.recorded'), false, 'a filtered-out event does not')
  await bus.emit('project.created', { organizationId: 'o', projectId: 'p', name: 'n' })
  await bus.emit('usage.recorded', { events: [] })
  await (bus.emit as (name: string, payload: unknown) => Promise<void>)('some.pluginEvent', { x: 1 })
  t.same(seen, ['project.created:{"organizationId":"o","projectId":"p","name":"n"}', 'some.pluginEvent:{"x":1}'])

  bus.onAny(() => {
    throw new Error('veto')
  }, { transactional: true })
  await t.rejects(bus.emit('project.deleted', { organizationId: 'o', projectId: 'p' }), /veto/, 'a transactional wildcard subscriber fails the emit')
  off()
  bus.onAny(() => {
    throw new Error('ignored')
  })
  const other = new EventBus(pino({ level: 'silent' }))
  other.onAny(() => {
    throw new Error('logged, not thrown')
  })
  await other.emit('project.deleted', { organizationId: 'o', projectId: 'p' })
  t.pass('a non-transactional wildcard subscriber never fails the emitter')
})
