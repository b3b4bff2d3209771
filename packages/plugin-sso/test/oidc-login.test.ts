import t from 'tap'
import { Browser } from './support/browser.js'
import { api, GATEWAY, ssoGateway } from './support/gateway.js'
import { startOidcIdp, type TestOidcIdp } from './support/oidc-idp.js'

const SECRET_A = 'client-a-secret-0123456789abcdef'
const SECRET_B = 'client-b-secret-0123456789abcdef'

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'))
}

t.test('OIDC sign-in against oidc-provider (authorization code + PKCE)', async (t) => {
  const gw = await ssoGateway(t)
  const orgA = gw.organizationId
  const orgB = await gw.identity.createOrganization({ name: 'Org B', ownerUserId: gw.userId })
  const keyB = await gw.identity.createApiKey({ organizationId: orgB.id, projectId: orgB.defaultProjectId, ownerUserId: gw.userId, name: 'b' })
  const idp: TestOidcIdp = await startOidcIdp({
    clients: [
      { client_id: 'client-a', client_secret: SECRET_A, redirect_uris: [`${GATEWAY}/sso/oidc/${orgA}/callback`] },
      { client_id: 'client-b', client_secret: SECRET_B, redirect_uris: [`${GATEWAY}/sso/oidc/${orgB.id}/callback`] },
    ],
    users: {
      alice: { email: 'alice@example.com', name: 'Alice', groups: ['engineering', 'gw-admins'] },
      bob: { email: 'bob@example.com', name: 'Bob', groups: ['gw-owners'] },
    },
  })
  t.teardown(() => idp.close())

  const failures: { reason: string; organizationId?: string }[] = []
  gw.events.on('sso.login.failed', (p) => void failures.push(p))
  const successes: { userId: string; method: string; provisioned: boolean }[] = []
  gw.events.on('sso.login.succeeded', (p) => void successes.push(p))

  const conn = (clientId: string, secret: string) => ({ protocol: 'oidc', oidc: { issuer: idp.issuer, clientId, clientSecret: secret, scopes: ['email', 'profile', 'groups'], allowInsecureHttp: true } })
  t.equal((await api(gw, 'PUT', `/sso/organizations/${orgA}/connection`, conn('client-a', SECRET_A))).status, 200)
  t.equal((await api(gw, 'PUT', `/sso/organizations/${orgB.id}/connection`, conn('client-b', SECRET_B), { authorization: `Bearer ${keyB.secret}` })).status, 200)
  const policy = await api(gw, 'PUT', `/sso/organizations/${orgA}/policy`, { enforced: false, defaultRole: 'viewer', groupRoles: [{ group: 'gw-admins', role: 'admin' }] })
  t.equal(policy.status, 200, JSON.stringify(policy.body))

  const shown = await api(gw, 'GET', `/sso/organizations/${orgA}/connection`)
  t.equal(shown.body.oidc.hasClientSecret, true)
  t.notMatch(JSON.stringify(shown.body), SECRET_A, 'the client secret is never shown')
  const [stored] = await gw.db.orm.em.fork().execute<{ client_secret_enc: string }[]>('select client_secret_enc from sso_connection where organization_id = ?', [orgA], 'all')
  t.notMatch(stored.client_secret_enc, SECRET_A, 'the client secret is encrypted at rest')

  const toCallback = (org: string) => (next: string) => next.startsWith(`${GATEWAY}/sso/oidc/${org}/callback`)

  /** Runs a sign-in up to the IdP's redirect back to the gateway; returns that callback URL. */
  async function untilCallback(browser: Browser, org: string): Promise<string> {
    const res = await browser.follow(`${GATEWAY}/sso/oidc/${org}/login?returnTo=/dashboard/usage`, { stopAt: toCallback(org) })
    if (res.status < 300 || res.status >= 400) throw new Error(`the IdP did not redirect back: ${res.status} ${res.body.slice(0, 300)}`)
    return new URL(String(res.headers.location), res.url).href
  }

  async function login(browser: Browser, org = orgA) {
    const callback = await untilCallback(browser, org)
    return browser.request('GET', callback)
  }

  await t.test('full flow: JIT provisioning, role from groups, session accepted by the management API', async (t) => {
    idp.signInAs('alice')
    const browser = new Browser(gw.app, GATEWAY)
    const start = await browser.request('GET', `${GATEWAY}/sso/oidc/${orgA}/login`)
    const authUrl = new URL(String(start.headers.location))
    t.equal(authUrl.searchParams.get('code_challenge_method'), 'S256')
    t.ok(authUrl.searchParams.get('code_challenge'))
    t.ok(authUrl.searchParams.get('nonce'))
    t.equal(authUrl.searchParams.get('redirect_uri'), `${GATEWAY}/sso/oidc/${orgA}/callback`, 'exact redirect URI from the configured public URL')

    const res = await login(browser)
    t.equal(res.status, 303, res.body)
    t.equal(res.headers.location, '/dashboard/usage')
    t.ok(idp.lastTokenRequest?.get('code_verifier'), 'the token request carries the PKCE verifier')
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] as string[])
    const session = setCookie.find((c) => c.startsWith('tollgate_session='))
    t.match(session, /HttpOnly/i)
    t.match(session, /Secure/i)
    t.match(session, /SameSite=Lax/i)
    const cookie = `tollgate_session=${browser.cookie(GATEWAY, 'tollgate_session')}`
    const csrf = browser.cookie(GATEWAY, 'tollgate_csrf') as string

    const me = await api(gw, 'GET', '/sso/session', undefined, { cookie })
    t.equal(me.status, 200)
    t.equal(me.body.role, 'admin', 'gw-admins maps to admin')
    t.equal(me.body.organizationId, orgA)
    const user = await gw.identity.findUserByEmail('alice@example.com')
    t.equal(user?.id, me.body.userId, 'the user was created just in time')
    t.same(successes.at(-1), { organizationId: orgA, userId: user?.id, method: 'oidc', sessionId: me.body.sessionId, provisioned: true })

    t.equal((await api(gw, 'GET', `/v1/organizations/${orgA}`, undefined, { cookie })).status, 200, 'core management API accepts the session')
    t.equal((await api(gw, 'GET', `/v1/organizations/${orgA}/members`, undefined, { cookie })).status, 200)
    t.equal((await api(gw, 'GET', `/v1/organizations/${orgB.id}`, undefined, { cookie })).status, 404, 'a session acts only in the organization it signed in to')

    const noCsrf = await api(gw, 'PATCH', `/v1/organizations/${orgA}`, { name: 'Renamed' }, { cookie })
    t.equal(noCsrf.status, 403)
    t.equal(noCsrf.body.error.code, 'TOLLGATE_ERR_SSO_CSRF')
    const wrongCsrf = await api(gw, 'PATCH', `/v1/organizations/${orgA}`, { name: 'Renamed' }, { cookie, 'x-csrf-token': `${csrf}x` })
    t.equal(wrongCsrf.status, 403)
    const withCsrf = await api(gw, 'PATCH', `/v1/organizations/${orgA}`, { name: 'Renamed' }, { cookie, 'x-csrf-token': csrf })
    t.equal(withCsrf.status, 200, 'an unsafe request with the double-submitted CSRF token passes')

    // Rotation: signing in again from the same browser ends the old session.
    const again = await login(browser)
    t.equal(again.status, 303)
    const cookie2 = `tollgate_session=${browser.cookie(GATEWAY, 'tollgate_session')}`
    t.not(cookie2, cookie, 'a new session token')
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie })).status, 401, 'the previous session token stopped working')
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie: cookie2 })).status, 200)

    // Logout everywhere: a second browser's session ends too.
    const other = new Browser(gw.app, GATEWAY)
    t.equal((await login(other)).status, 303)
    const otherCookie = `tollgate_session=${other.cookie(GATEWAY, 'tollgate_session')}`
    const csrf2 = browser.cookie(GATEWAY, 'tollgate_csrf') as string
    const all = await api(gw, 'POST', '/sso/logout-all', undefined, { cookie: cookie2, 'x-csrf-token': csrf2 })
    t.equal(all.status, 200)
    t.equal(all.body.sessionsEnded, 2)
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie: otherCookie })).status, 401)
  })

  await t.test('owner only when a rule maps a group to owner', async (t) => {
    idp.signInAs('bob')
    const b1 = new Browser(gw.app, GATEWAY)
    t.equal((await login(b1)).status, 303)
    const bob = await gw.identity.findUserByEmail('bob@example.com')
    t.equal((await gw.identity.membership(orgA, bob?.id as string))?.role, 'viewer', 'an unmapped group gets the default role, never owner')
    await api(gw, 'PUT', `/sso/organizations/${orgA}/policy`, { enforced: false, defaultRole: 'viewer', groupRoles: [{ group: 'gw-admins', role: 'admin' }, { group: 'gw-owners', role: 'owner' }] })
    t.equal((await login(new Browser(gw.app, GATEWAY))).status, 303)
    t.equal((await gw.identity.membership(orgA, bob?.id as string))?.role, 'owner', 'explicitly mapped: owner')
    await api(gw, 'PUT', `/sso/organizations/${orgA}/policy`, { enforced: false, defaultRole: null, groupRoles: [{ group: 'gw-admins', role: 'admin' }] })
    const denied = await login(new Browser(gw.app, GATEWAY))
    t.equal(denied.status, 403, 'no rule and no default role: no sign-in')
    t.equal(JSON.parse(denied.body).error.code, 'TOLLGATE_ERR_SSO_ACCESS_DENIED')
    await api(gw, 'PUT', `/sso/organizations/${orgA}/policy`, { enforced: false, defaultRole: 'viewer', groupRoles: [{ group: 'gw-admins', role: 'admin' }] })
    idp.signInAs('alice')
  })

  /** Runs a sign-in whose token response is rewritten; returns the gateway's answer. */
  async function forged(rewrite: (body: Record<string, unknown>, claims: Record<string, unknown>) => Record<string, unknown>, org = orgA) {
    idp.tamper = (body) => rewrite(body, claimsOf(body.id_token as string))
    try {
      return await login(new Browser(gw.app, GATEWAY), org)
    } finally {
      idp.tamper = undefined
    }
  }
  const now = () => Math.floor(Date.now() / 1000)
  const header = () => ({ alg: 'RS256', typ: 'JWT', kid: idp.kid })

  await t.test('control: an honestly re-signed token is accepted (the forgery hook itself breaks nothing)', async (t) => {
    const res = await forged((body, claims) => ({ ...body, id_token: idp.jwt(header(), claims) }))
    t.equal(res.status, 303, res.body)
  })

  const attacks: [string, (body: Record<string, unknown>, claims: Record<string, unknown>) => Record<string, unknown>][] = [
    ['alg=none', (body, claims) => ({ ...body, id_token: idp.jwt({ alg: 'none', typ: 'JWT' }, claims, 'none') })],
    ['HS256 signed with the IdP public key as the secret', (body, claims) => ({ ...body, id_token: idp.jwt({ alg: 'HS256', typ: 'JWT', kid: idp.kid }, claims, { hs256Secret: idp.publicKeyPem }) })],
    ['wrong iss', (body, claims) => ({ ...body, id_token: idp.jwt(header(), { ...claims, iss: 'https://evil.example' }) })],
    ['wrong aud', (body, claims) => ({ ...body, id_token: idp.jwt(header(), { ...claims, aud: 'client-b' }) })],
    ['expired', (body, claims) => ({ ...body, id_token: idp.jwt(header(), { ...claims, iat: now() - 7200, exp: now() - 3600 }) })],
    ['mismatched nonce', (body, claims) => ({ ...body, id_token: idp.jwt(header(), { ...claims, nonce: 'not-the-nonce' }) })],
    ['tampered payload with the original signature', (body) => {
      const [h, p, s] = String(body.id_token).split('.')
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
      return { ...body, id_token: [h, Buffer.from(JSON.stringify({ ...claims, sub: 'bob' })).toString('base64url'), s].join('.') }
    }],
  ]
  const expectedReason: Record<string, RegExp> = {
    'alg=none': /"alg"/,
    'HS256 signed with the IdP public key as the secret': /"alg"/,
    'wrong iss': /"iss"/,
    'wrong aud': /"aud"/,
    expired: /"exp"/,
    'mismatched nonce': /"nonce"/,
    'tampered payload with the original signature': /signature verification failed/,
  }
  for (const [name, attack] of attacks) {
    await t.test(`rejected: ${name}`, async (t) => {
      const before = failures.length
      const res = await forged(attack)
      t.equal(res.status, 401, res.body)
      t.equal(JSON.parse(res.body).error.code, 'TOLLGATE_ERR_SSO_LOGIN_FAILED')
      t.notOk(String(res.headers['set-cookie'] ?? '').includes('tollgate_session=tgs_'), 'no session')
      t.equal(failures.length, before + 1, 'sso.login.failed emitted')
      t.match(failures.at(-1)?.reason, expectedReason[name], 'rejected for the right reason')
    })
  }

  await t.test('rejected: mismatched state', async (t) => {
    const browser = new Browser(gw.app, GATEWAY)
    const callback = new URL(await untilCallback(browser, orgA))
    callback.searchParams.set('state', 'forged-state')
    const res = await browser.request('GET', callback.href)
    t.equal(res.status, 401)
    t.match(failures.at(-1)?.reason, /state/)
  })

  await t.test('rejected: a callback from another browser (state not bound to this one)', async (t) => {
    const callback = await untilCallback(new Browser(gw.app, GATEWAY), orgA)
    const res = await new Browser(gw.app, GATEWAY).request('GET', callback)
    t.equal(res.status, 401)
    t.match(failures.at(-1)?.reason, /browser/)
  })

  await t.test('rejected: missing PKCE verifier', async (t) => {
    // The IdP refuses a code exchanged without the verifier...
    const callback = new URL(await untilCallback(new Browser(gw.app, GATEWAY), orgA))
    const direct = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code') as string, redirect_uri: `${GATEWAY}/sso/oidc/${orgA}/callback`, client_id: 'client-a', client_secret: SECRET_A }),
    })
    t.equal(direct.status, 400, 'oidc-provider requires the PKCE verifier')
    t.match(await direct.text(), /invalid_grant|invalid_request/)
    // ...and the gateway refuses a sign-in whose stored verifier is gone.
    const browser = new Browser(gw.app, GATEWAY)
    const cb = await untilCallback(browser, orgA)
    await gw.db.orm.em.fork().execute('update sso_login_state set code_verifier = null where state = ?', [new URL(cb).searchParams.get('state')], 'run')
    const res = await browser.request('GET', cb)
    t.equal(res.status, 401)
    t.match(failures.at(-1)?.reason, /PKCE/)
  })

  await t.test('back-channel logout: a verified logout token ends the user\'s sessions', async (t) => {
    idp.signInAs('alice')
    const browser = new Browser(gw.app, GATEWAY)
    t.equal((await login(browser)).status, 303)
    const cookie = `tollgate_session=${browser.cookie(GATEWAY, 'tollgate_session')}`
    const event = { 'http://schemas.openid.net/event/backchannel-logout': {} }
    const claims = (extra: Record<string, unknown> = {}) => ({ iss: idp.issuer, aud: 'client-a', iat: now(), jti: `j${Math.random()}`, sub: 'alice', events: event, ...extra })
    const post = (token: string) =>
      gw.app.inject({ method: 'POST', url: `/sso/oidc/${orgA}/backchannel-logout`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ logout_token: token }).toString() })
    const bad: [string, string][] = [
      ['wrong aud', idp.jwt({ ...header(), typ: 'logout+jwt' }, claims({ aud: 'client-b' }))],
      ['alg none', idp.jwt({ alg: 'none', typ: 'logout+jwt' }, claims(), 'none')],
      ['HS256 with the public key', idp.jwt({ alg: 'HS256', typ: 'logout+jwt' }, claims(), { hs256Secret: idp.publicKeyPem })],
      ['no logout event', idp.jwt(header(), claims({ events: {} }))],
      ['carries a nonce', idp.jwt(header(), claims({ nonce: 'n' }))],
      ['too old', idp.jwt(header(), claims({ iat: now() - 3600 }))],
    ]
    for (const [name, token] of bad) {
      const res = await post(token)
      t.equal(res.statusCode, 400, name)
      t.equal(JSON.parse(res.body).error.code, 'TOLLGATE_ERR_SSO_INVALID_LOGOUT_TOKEN', name)
    }
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie })).status, 200, 'refused tokens end nothing')
    const ok = await post(idp.jwt({ ...header(), typ: 'logout+jwt' }, claims()))
    t.equal(ok.statusCode, 200, ok.body)
    t.equal((await api(gw, 'GET', '/sso/session', undefined, { cookie })).status, 401, 'the session ended')
  })

  await t.test('rejected: one organization\'s IdP answer used for another organization', async (t) => {
    // A callback of org B's sign-in delivered to org A's callback.
    const browser = new Browser(gw.app, GATEWAY)
    const cbB = new URL(await untilCallback(browser, orgB.id))
    const res = await browser.request('GET', `${GATEWAY}/sso/oidc/${orgA}/callback${cbB.search}`)
    t.equal(res.status, 401)
    // An ID token issued to org B's client swapped into org A's token response.
    let tokenForB: string | undefined
    idp.tamper = (body) => {
      tokenForB = body.id_token as string
      return body
    }
    t.equal((await login(new Browser(gw.app, GATEWAY), orgB.id)).status, 303)
    idp.tamper = undefined
    t.equal(claimsOf(tokenForB as string).aud, 'client-b')
    const swapped = await forged((body) => ({ ...body, id_token: tokenForB }))
    t.equal(swapped.status, 401)
    t.match(failures.at(-1)?.reason, /token response rejected/)
  })
})
