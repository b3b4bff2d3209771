import { createGateway } from '@tollgate/core'
import pino from 'pino'
import t from 'tap'
import { ssoPlugin } from '../src/index.js'
import { Browser, formOf } from './support/browser.js'
import { api, GATEWAY, ssoGateway } from './support/gateway.js'
import { IDP_CERT, startSamlIdp } from './support/saml-idp.js'

// Two gateway instances on one PostgreSQL database: sign-in state, sessions and the SAML replay
// cache live in the database, so any instance can finish what another started, and a response
// accepted by one is refused by the other.
t.test('two instances share sign-in state, sessions and the replay cache', { skip: process.env.DATABASE_URL ? false : 'needs PostgreSQL (DATABASE_URL)' }, async (t) => {
  const a = await ssoGateway(t)
  const b = await createGateway({
    logger: pino({ level: 'silent' }),
    database: a.testDb.options,
    security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64') },
    plugins: [ssoPlugin({ publicUrl: GATEWAY })],
  })
  t.teardown(() => b.close())
  const org = a.organizationId
  const idp = await startSamlIdp(async () => (await a.app.inject({ method: 'GET', url: `/sso/saml/${org}/metadata` })).body)
  t.teardown(() => idp.close())
  t.equal((await api(a, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'saml', saml: { idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl, idpCertificates: [IDP_CERT] } })).status, 200)

  // The sign-in starts on instance A...
  const onA = new Browser(a.app, GATEWAY)
  const page = await onA.follow(`${GATEWAY}/sso/saml/${org}/login`)
  const form = formOf(page.body)
  // ...and the browser's POST lands on instance B (same cookies, another process behind the balancer).
  const onB = new Browser(b.app, GATEWAY)
  onB.jar.set(GATEWAY, new Map(onA.jar.get(GATEWAY)))
  const done = await onB.request('POST', form.action, form.fields)
  t.equal(done.status, 303, done.body)
  // The session it issued works on A; logging out on A ends it on B.
  const cookie = `tollgate_session=${onB.cookie(GATEWAY, 'tollgate_session')}`
  t.equal((await api(a, 'GET', '/sso/session', undefined, { cookie })).status, 200)
  const csrf = onB.cookie(GATEWAY, 'tollgate_csrf') as string
  t.equal((await api(a, 'POST', '/sso/logout', undefined, { cookie, 'x-csrf-token': csrf })).status, 204)
  t.equal((await api(b, 'GET', '/sso/session', undefined, { cookie })).status, 401)

  // The same assertion replayed at A is refused, and its id is in the shared replay cache.
  const replay = await onA.request('POST', form.action, form.fields)
  t.equal(replay.status, 401)
  const id = /<saml:Assertion[^>]* ID="([^"]+)"/.exec(Buffer.from(form.fields.SAMLResponse, 'base64').toString())?.[1]
  const rows = await a.db.orm.em.fork().execute('select assertion_id from sso_saml_assertion where assertion_id = ?', [id], 'all')
  t.equal(rows.length, 1)

  // Two instances racing on one fresh response: exactly one signs in.
  const racer = new Browser(a.app, GATEWAY)
  const f2 = formOf((await racer.follow(`${GATEWAY}/sso/saml/${org}/login`)).body)
  const racerB = new Browser(b.app, GATEWAY)
  racerB.jar.set(GATEWAY, new Map(racer.jar.get(GATEWAY)))
  const results = await Promise.all([racer.request('POST', f2.action, f2.fields), racerB.request('POST', f2.action, f2.fields)])
  t.same(results.map((r) => r.status).sort(), [303, 401])
  // Close B before A's teardown drops the shared database.
  await b.close()
})
