import t from 'tap'
import { hashPassword } from '../src/crypto/password.js'
import { api, ssoGateway } from './support/gateway.js'

const PASSWORD = 'a long local password 1'

t.test('local sign-in, enforced SSO and the break-glass owner', async (t) => {
  const gw = await ssoGateway(t)
  const org = gw.organizationId
  const member = await gw.identity.createUser({ email: 'member@example.com', name: 'Member' })
  await gw.identity.addMember({ organizationId: org, userId: member.id, role: 'member' })
  const memberKey = await gw.identity.createApiKey({ organizationId: org, projectId: gw.projectId, ownerUserId: member.id, name: 'm' })
  const owner = await gw.identity.getUser(gw.userId)
  const failed: { reason: string }[] = []
  gw.events.on('sso.login.failed', (p) => void failed.push(p))

  // The owner sets a local password with their owner key; a key capped below owner may not mint a
  // password (it would become a session with the member's full role).
  t.equal((await api(gw, 'PUT', '/sso/me/password', { password: PASSWORD })).status, 204)
  t.equal((await api(gw, 'PUT', '/sso/me/password', { password: PASSWORD }, { authorization: `Bearer ${memberKey.secret}` })).status, 403)
  await gw.db.orm.em.fork().execute('insert into sso_local_credential (user_id, password_hash) values (?, ?)', [member.id, await hashPassword(PASSWORD)], 'run')
  const again = await api(gw, 'PUT', '/sso/me/password', { password: `${PASSWORD} changed` })
  t.equal(again.status, 401, 'changing an existing password needs the current one')
  t.equal(again.body.error.field, 'currentPassword')
  t.equal((await api(gw, 'PUT', '/sso/me/password', { password: PASSWORD, currentPassword: PASSWORD })).status, 204)
  const short = await api(gw, 'PUT', '/sso/me/password', { password: 'short' })
  t.equal(short.status, 400)
  t.match(short.body.error.message, /password/)

  const login = (email: string, password = PASSWORD) => api(gw, 'POST', '/sso/login/password', { organizationId: org, email, password }, {})
  const cookieOf = (res: { headers: Record<string, unknown> }) => ([] as string[]).concat(res.headers['set-cookie'] as string[]).find((c) => c.startsWith('tollgate_session='))?.split(';')[0] as string

  await t.test('local sign-in while SSO is not enforced', async (t) => {
    const ok = await login('member@example.com')
    t.equal(ok.status, 200)
    t.equal(ok.body.role, 'member')
    t.ok(ok.body.csrfToken)
    const wrong = await login('member@example.com', 'not the password at all')
    t.equal(wrong.status, 401)
    t.equal(wrong.body.error.code, 'TOLLGATE_ERR_SSO_INVALID_CREDENTIALS')
    const unknown = await login('nobody@example.com')
    t.equal(unknown.status, 401)
    t.equal(unknown.body.error.message, wrong.body.error.message, 'unknown email and wrong password look the same')
    const cookie = cookieOf(ok)
    const logout = await api(gw, 'POST', '/sso/logout', undefined, { cookie, 'x-csrf-token': ok.body.csrfToken })
    t.equal(logout.status, 204)
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie })).status, 401)
  })

  await t.test('sessions expire when idle or past their lifetime', async (t) => {
    const idle = cookieOf(await login('member@example.com'))
    const old = cookieOf(await login('member@example.com'))
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie: idle })).status, 200)
    const em = gw.db.orm.em.fork()
    const hash = async (c: string) => (await import('../src/crypto/tokens.js')).sha256(decodeURIComponent(c.split('=')[1]))
    await em.execute("update sso_session set last_seen_at = now() - interval '2 hours' where token_hash = ?", [await hash(idle)], 'run')
    await em.execute("update sso_session set expires_at = now() - interval '1 second' where token_hash = ?", [await hash(old)], 'run')
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie: idle })).status, 401, 'idle for longer than sessionIdleSeconds')
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie: old })).status, 401, 'past sessionTtlSeconds')
  })

  await t.test('repeated failures lock the email out (429 with Retry-After), across the right password too', async (t) => {
    const locked = await gw.identity.createUser({ email: 'locked@example.com' })
    await gw.identity.addMember({ organizationId: org, userId: locked.id, role: 'viewer' })
    await gw.db.orm.em.fork().execute('insert into sso_local_credential (user_id, password_hash) values (?, ?)', [locked.id, await hashPassword(PASSWORD)], 'run')
    for (let i = 0; i < 10; i++) t.equal((await login('locked@example.com', `wrong ${i} password`)).status, 401)
    const blocked = await login('LOCKED@example.com')
    t.equal(blocked.status, 429)
    t.equal(blocked.body.error.code, 'TOLLGATE_ERR_SSO_TOO_MANY_ATTEMPTS')
    t.ok(Number(blocked.headers['retry-after']) > 0)
    t.equal((await login('member@example.com')).status, 200, 'other emails are unaffected')
    const metrics = await gw.metrics.text()
    t.match(metrics, /tollgate_sso_logins_total\{method="password",outcome="failed"\} (1[0-9]|[2-9][0-9])/)
    t.match(metrics, /tollgate_sso_logins_total\{method="password",outcome="succeeded"\} [1-9]/)
  })

  await t.test('enforcement needs a connection and a break-glass owner', async (t) => {
    const noConn = await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: true, breakGlassUserId: gw.userId })
    t.equal(noConn.status, 400)
    t.equal(noConn.body.error.code, 'TOLLGATE_ERR_SSO_INVALID_CONFIG')
    await api(gw, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'oidc', oidc: { issuer: 'https://idp.example.com', clientId: 'x' } })
    const noGlass = await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: true })
    t.equal(noGlass.status, 400)
    t.match(noGlass.body.error.message, /breakGlassUserId/)
    const notOwner = await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: true, breakGlassUserId: member.id })
    t.equal(notOwner.status, 400)
    const httpIssuer = await api(gw, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'oidc', oidc: { issuer: 'http://idp.example.com', clientId: 'x' } })
    t.equal(httpIssuer.status, 400, 'an http issuer needs allowInsecureHttp')
    const bothProtocols = await api(gw, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'oidc', oidc: { issuer: 'https://idp.example.com', clientId: 'x' }, saml: { idpEntityId: 'x', idpSsoUrl: 'https://x', idpCertificates: ['A'.repeat(200)] } })
    t.equal(bothProtocols.status, 400)
    const ownerMapping = await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: false, defaultRole: 'owner' })
    t.equal(ownerMapping.status, 400, 'the default role can never be owner')
  })

  await t.test('enforced: members sign in only through the IdP; the break-glass owner keeps a password', async (t) => {
    const memberSession = cookieOf(await login('member@example.com'))
    const ownerLogin = await login(owner?.email as string)
    t.equal(ownerLogin.status, 200)
    const ownerSession = cookieOf(ownerLogin)
    const res = await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: true, breakGlassUserId: gw.userId })
    t.equal(res.status, 200, JSON.stringify(res.body))
    t.ok(res.body.passwordSessionsEnded >= 1, 'the member\'s password sessions ended')
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie: memberSession })).status, 401)
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie: ownerSession })).status, 200, 'the break-glass owner\'s session lives on')
    const denied = await login('member@example.com')
    t.equal(denied.status, 403)
    t.equal(denied.body.error.code, 'TOLLGATE_ERR_SSO_ACCESS_DENIED')
    t.match(failed.at(-1)?.reason, /identity provider only/)
    const disable = await api(gw, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'oidc', enabled: false, oidc: { issuer: 'https://idp.example.com', clientId: 'x' } })
    t.equal(disable.status, 400, 'the connection cannot be disabled while enforced')
    t.equal((await api(gw, 'DELETE', `/sso/organizations/${org}/connection`)).status, 400, 'nor deleted')
    const glass = await login(owner?.email as string)
    t.equal(glass.status, 200, 'break-glass owner signs in with the local password')
    // API keys are not sign-ins: the member's key still works for the API it is scoped to.
    t.equal((await api(gw, 'GET', '/v1/me', undefined, { authorization: `Bearer ${memberKey.secret}` })).status, 200)
  })

  await t.test('management routes: admins read, owners change; other organizations get 404', async (t) => {
    const adminUser = await gw.identity.createUser({ email: 'admin@example.com' })
    await gw.identity.addMember({ organizationId: org, userId: adminUser.id, role: 'admin' })
    const adminKey = await gw.identity.createApiKey({ organizationId: org, projectId: gw.projectId, ownerUserId: adminUser.id, name: 'a' })
    const auth = { authorization: `Bearer ${adminKey.secret}` }
    t.equal((await api(gw, 'GET', `/sso/organizations/${org}/policy`, undefined, auth)).status, 200)
    t.equal((await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: false }, auth)).status, 403)
    t.equal((await api(gw, 'POST', `/sso/organizations/${org}/scim-token`, undefined, auth)).status, 403)
    t.equal((await api(gw, 'GET', `/sso/organizations/${org}/policy`, undefined, { authorization: `Bearer ${memberKey.secret}` })).status, 403)
    const elsewhere = await gw.identity.createOrganization({ name: 'Elsewhere', ownerUserId: adminUser.id })
    t.equal((await api(gw, 'GET', `/sso/organizations/${elsewhere.id}/policy`)).status, 404)
    t.equal((await api(gw, 'GET', '/sso/organizations/not-a-uuid/policy')).status, 404)
    t.equal((await api(gw, 'GET', `/sso/organizations/${org}/policy`, undefined, {})).status, 401)
  })
})
