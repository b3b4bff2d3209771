import t from 'tap'
import { createExtensionPoint, createServiceRef, definePlugin } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'

interface Greeter {
  greet(name: string): string
}
const GreeterRef = createServiceRef<Greeter>('test.greeter')
const Rules = createExtensionPoint<(text: string) => boolean>('test.rules')

t.test('plugin routes: own scope, authenticated by default, opt-out for self-authenticating routes', async (t) => {
  const p = definePlugin({
    id: 'routes-test',
    register(host) {
      host.routes('/routes-test', async (app) => {
        app.decorateRequest('routesTestOnly', null)
        app.get('/whoami', async (request) => ({ organizationId: request.principal?.organizationId, role: request.principal?.role }))
      })
      host.routes('/routes-test-public', async (app) => {
        app.get('/ping', async (request) => ({ pong: true, hasDecorator: 'routesTestOnly' in request }))
      }, { auth: 'none' })
    },
  })
  const gw = await createTestGateway({ plugins: [p()] })
  t.teardown(() => gw.close())
  const anon = await gw.app.inject({ url: '/routes-test/whoami' })
  t.equal(anon.statusCode, 401)
  t.equal(anon.json().error.code, 'TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS')
  const authed = await gw.app.inject({ url: '/routes-test/whoami', headers: { authorization: `Bearer ${gw.apiKey}` } })
  t.equal(authed.statusCode, 200)
  t.same(authed.json(), { organizationId: gw.organizationId, role: 'owner' })
  const open = await gw.app.inject({ url: '/routes-test-public/ping' })
  t.equal(open.statusCode, 200)
  t.same(open.json(), { pong: true, hasDecorator: false }, "one plugin's decorators do not leak into another scope")
})

t.test('services and extension points are shared between plugins by typed refs', async (t) => {
  const seen: string[] = []
  const provider = definePlugin({
    id: 'greeter',
    register(host) {
      host.services.provide(GreeterRef, { greet: (n) => `hello ${n}` })
      host.hooks.add('onReady', async () => {
        for (const rule of host.services.extensions(Rules)) seen.push(String(rule('secret')))
      })
    },
  })
  const consumer = definePlugin({
    id: 'consumer',
    dependencies: ['greeter'],
    register(host) {
      seen.push(host.services.get(GreeterRef).greet('consumer'))
      host.services.extend(Rules, (text) => text.includes('secret'))
    },
  })
  const gw = await createTestGateway({ plugins: [consumer(), provider()] })
  t.teardown(() => gw.close())
  t.same(seen, ['hello consumer', 'true'], 'the dependency registered first; the extension was read at onReady')

  const twice = definePlugin({ id: 'twice', register: (host) => host.services.provide(GreeterRef, { greet: () => '' }) })
  await t.rejects(createTestGateway({ plugins: [provider(), twice()] }), /service test.greeter is already provided by greeter/)
  const missing = definePlugin({ id: 'missing', register: (host) => void host.services.get(createServiceRef('test.none')) })
  await t.rejects(createTestGateway({ plugins: [missing()] }), /service test.none is not provided/)
})

t.test('domain events: transactional subscribers can veto, others cannot fail the emitter', async (t) => {
  const got: string[] = []
  const p = definePlugin({
    id: 'listener',
    register(host) {
      host.events.on('project.created', async ({ name }) => {
        got.push(`tx:${name}`)
        if (name === 'forbidden') throw new Error('vetoed in the transaction')
      }, { transactional: true })
      host.events.on('project.created', async ({ name }) => {
        got.push(`after:${name}`)
        throw new Error('a failing non-transactional subscriber is only logged')
      })
    },
  })
  const gw = await createTestGateway({ plugins: [p()] })
  t.teardown(() => gw.close())
  got.length = 0
  await gw.identity.createProject({ organizationId: gw.organizationId, name: 'fine' })
  t.same(got, ['tx:fine', 'after:fine'])
  await t.rejects(gw.identity.createProject({ organizationId: gw.organizationId, name: 'forbidden' }), /vetoed/)
  const projects = await gw.identity.listProjects(gw.organizationId)
  t.notOk(projects.some((p: { name: string }) => p.name === 'forbidden'), 'the vetoed change was rolled back')
})

t.test('metrics follow tollgate_<area>_<name>_<unit>; workers registered through the host run', async (t) => {
  let ran = 0
  const p = definePlugin({
    id: 'metrics-test',
    register(host) {
      host.metrics.counter({ name: 'tollgate_metricstest_things_total', help: 'things' }).inc(3)
      t.throws(() => host.metrics.counter({ name: 'things', help: 'bad' }), /tollgate_<area>_<name>_<unit>/)
      t.throws(() => host.metrics.gauge({ name: 'tollgate_metricstest_depth_total', help: 'bad' }), /only counters end in _total/)
      t.throws(() => host.metrics.counter({ name: 'tollgate_metricstest_things_total', help: 'dup' }), /registered twice/)
      host.workers.add({ name: 'metrics-test.tick', intervalMs: 60_000, run: async () => void ran++ })
    },
  })
  const gw = await createTestGateway({ plugins: [p()] })
  t.teardown(() => gw.close())
  t.match(await gw.metrics.text(), /tollgate_metricstest_things_total 3/)
  t.equal(await gw.workers.runOnce('metrics-test.tick'), false)
  t.equal(ran, 1)
})
