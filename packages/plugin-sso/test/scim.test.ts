import t from 'tap'
import { hashPassword } from '../src/crypto/password.js'
import { api, ssoGateway } from './support/gateway.js'
import { patch, scimClient, scimUser } from './support/scim-client.js'

t.test('SCIM 2.0 server', async (t) => {
  const gw = await ssoGateway(t)
  const org = gw.organizationId
  const events: string[] = []
  for (const name of ['scim.user.created', 'scim.user.updated', 'scim.user.deactivated', 'scim.user.deleted', 'scim.group.created', 'scim.group.updated', 'scim.group.deleted', 'sso.scimToken.rotated'] as const) {
    gw.events.on(name, () => void events.push(name))
  }
  const rotated = await api(gw, 'POST', `/sso/organizations/${org}/scim-token`)
  t.equal(rotated.status, 201)
  let token = rotated.body.token as string
  t.match(token, /^tgscim_/)
  const [stored] = await gw.db.orm.em.fork().execute<{ token_hash: string }[]>('select token_hash from sso_scim_token where organization_id = ?', [org], 'all')
  t.not(stored.token_hash, token, 'stored hashed')
  const scim = scimClient(gw, () => token)

  await t.test('discovery endpoints and authentication', async (t) => {
    const spc = await scim('GET', '/ServiceProviderConfig')
    t.equal(spc.status, 200)
    t.match(spc.contentType, /^application\/scim\+json/)
    t.equal(spc.body.patch.supported, true)
    t.equal(spc.body.filter.supported, true)
    const rt = await scim('GET', '/ResourceTypes')
    t.same(rt.body.Resources.map((r: { id: string }) => r.id), ['User', 'Group'])
    t.equal((await scim('GET', '/ResourceTypes/User')).body.endpoint, '/Users')
    const schemas = await scim('GET', '/Schemas')
    t.equal(schemas.body.totalResults, 2)
    t.equal((await scim('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group')).body.name, 'Group')
    const none = await gw.app.inject({ method: 'GET', url: '/scim/v2/Users' })
    t.equal(none.statusCode, 401)
    t.match(none.headers['content-type'], /scim\+json/)
    t.same(JSON.parse(none.body).schemas, ['urn:ietf:params:scim:api:messages:2.0:Error'])
    t.equal((await scimClient(gw, () => 'tgscim_wrong')('GET', '/Users')).status, 401)
    t.equal((await scimClient(gw, () => gw.apiKey)('GET', '/Users')).status, 401, 'an API key is not a SCIM token')
  })

  const ids: Record<string, string> = {}
  await t.test('create users: account linked or created, membership with the default role', async (t) => {
    const res = await scim('POST', '/Users', scimUser('ada@example.com', { externalId: 'ext-ada', displayName: 'Ada Lovelace' }))
    t.equal(res.status, 201, JSON.stringify(res.body))
    t.equal(res.body.userName, 'ada@example.com')
    t.match(res.body.meta, { resourceType: 'User', version: 'W/"1"' })
    ids.ada = res.body.id
    const user = await gw.identity.findUserByEmail('ada@example.com')
    t.ok(user)
    t.equal((await gw.identity.membership(org, user?.id as string))?.role, 'member')
    const dup = await scim('POST', '/Users', scimUser('ADA@example.com'))
    t.equal(dup.status, 409)
    t.equal(dup.body.scimType, 'uniqueness')
    const bad = await scim('POST', '/Users', { schemas: [], emails: 'x' })
    t.equal(bad.status, 400)
    t.equal(bad.body.scimType, 'invalidValue')
    t.match(bad.body.detail, /userName/)
    for (const name of ['grace', 'alan', 'edsger', 'barbara', 'donald', 'margaret']) {
      const r = await scim('POST', '/Users', scimUser(`${name}@example.com`, { emails: [{ value: `${name}@example.com`, type: name === 'grace' ? 'home' : 'work' }] }))
      t.equal(r.status, 201)
      ids[name] = r.body.id
    }
    t.ok(events.includes('scim.user.created'))
  })

  await t.test('filters: eq co sw pr and or, value paths; bad filters are invalidFilter', async (t) => {
    const names = async (filter: string) => (await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`)).body.Resources.map((r: { userName: string }) => r.userName).sort()
    t.same(await names('userName eq "ADA@example.com"'), ['ada@example.com'], 'userName is case-insensitive')
    t.same(await names('externalId eq "ext-ada"'), ['ada@example.com'])
    t.same(await names('externalId eq "EXT-ADA"'), [], 'externalId is case-exact')
    t.same(await names('userName co "ar"'), ['barbara@example.com', 'margaret@example.com'])
    t.same(await names('userName sw "ed"'), ['edsger@example.com'])
    t.same(await names('displayName pr'), ['ada@example.com'])
    t.same(await names('userName sw "a" and not (userName eq "alan@example.com")'), ['ada@example.com'])
    t.same(await names('userName eq "alan@example.com" or userName eq "grace@example.com"'), ['alan@example.com', 'grace@example.com'])
    t.same(await names('emails[type eq "home"]'), ['grace@example.com'])
    t.same(await names('emails.value ew "donald@example.com"'), ['donald@example.com'])
    t.same(await names('userName co "100%_"'), [], 'LIKE metacharacters are literal')
    t.same(await names('active eq true and name.givenName sw "mar"'), ['margaret@example.com'])
    for (const bad of ['userName eq', 'userName xx "a"', '(userName eq "a"', 'password eq "x"', 'active eq "yes"', 'userName eq "a" extra']) {
      const r = await scim('GET', `/Users?filter=${encodeURIComponent(bad)}`)
      t.equal(r.status, 400, bad)
      t.equal(r.body.scimType, 'invalidFilter', bad)
    }
  })

  await t.test('pagination: startIndex and count', async (t) => {
    const all = await scim('GET', '/Users?count=1000')
    t.equal(all.body.totalResults, 7)
    const seen: string[] = []
    for (let start = 1; start <= 7; start += 3) {
      const page = await scim('GET', `/Users?startIndex=${start}&count=3`)
      t.equal(page.body.startIndex, start)
      t.equal(page.body.totalResults, 7)
      seen.push(...page.body.Resources.map((r: { id: string }) => r.id))
    }
    t.same(seen, all.body.Resources.map((r: { id: string }) => r.id), 'pages tile the list in a stable order')
    const zero = await scim('GET', '/Users?count=0')
    t.equal(zero.body.itemsPerPage, 0)
    t.equal(zero.body.totalResults, 7)
  })

  await t.test('PATCH and PUT on users', async (t) => {
    const r = await scim('PATCH', `/Users/${ids.ada}`, patch({ op: 'replace', path: 'name.givenName', value: 'Augusta' }, { op: 'add', path: 'emails[type eq "home"].value', value: 'ada@home.example' }, { op: 'Replace', value: { displayName: 'Countess' } }))
    t.equal(r.status, 200, JSON.stringify(r.body))
    t.equal(r.body.name.givenName, 'Augusta')
    t.equal(r.body.displayName, 'Countess')
    t.same(r.body.emails.map((e: { value: string }) => e.value).sort(), ['ada@example.com', 'ada@home.example'])
    t.equal(r.body.meta.version, 'W/"2"')
    const removed = await scim('PATCH', `/Users/${ids.ada}`, patch({ op: 'remove', path: 'emails[type eq "home"]' }))
    t.same(removed.body.emails.map((e: { value: string }) => e.value), ['ada@example.com'])
    const badPath = await scim('PATCH', `/Users/${ids.ada}`, patch({ op: 'replace', path: 'name[', value: 'x' }))
    t.equal(badPath.status, 400)
    t.equal(badPath.body.scimType, 'invalidPath')
    const noSchema = await scim('PATCH', `/Users/${ids.ada}`, { Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] })
    t.equal(noSchema.status, 400)
    const put = await scim('PUT', `/Users/${ids.grace}`, scimUser('grace@example.com', { displayName: 'Grace Hopper' }))
    t.equal(put.status, 200)
    t.equal(put.body.displayName, 'Grace Hopper')
  })

  await t.test('deactivation ends sessions, revokes API keys, keeps spend attributed; reactivation restores access', async (t) => {
    const user = await gw.identity.findUserByEmail('alan@example.com')
    const userId = user?.id as string
    // A session (local password) and an API key of the user in the organization.
    await gw.db.orm.em.fork().execute('insert into sso_local_credential (user_id, password_hash) values (?, ?)', [userId, await hashPassword('correct horse battery staple')], 'run')
    const login = await gw.app.inject({ method: 'POST', url: '/sso/login/password', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ organizationId: org, email: 'alan@example.com', password: 'correct horse battery staple' }) })
    t.equal(login.statusCode, 200, login.body)
    const cookie = ([] as string[]).concat(login.headers['set-cookie'] as string[]).find((c) => c.startsWith('tollgate_session='))?.split(';')[0] as string
    const key = await gw.identity.createApiKey({ organizationId: org, projectId: gw.projectId, ownerUserId: userId, name: 'alan key' })
    const call = () => gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' }, payload: JSON.stringify({ model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }] }) })
    t.equal((await call()).statusCode, 200)
    let usage: { user_id: string; api_key_id: string }[] = []
    for (let i = 0; i < 100 && usage.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20))
      usage = await gw.db.orm.em.fork().execute('select user_id, api_key_id from core_usage_event where api_key_id = ?', [key.id], 'all')
    }
    t.equal(usage.length, 1)

    const off = await scim('PATCH', `/Users/${ids.alan}`, patch({ op: 'Replace', path: 'active', value: 'False' }))
    t.equal(off.status, 200, JSON.stringify(off.body))
    t.equal(off.body.active, false)
    t.ok(events.includes('scim.user.deactivated'))
    t.equal((await gw.app.inject({ method: 'GET', url: '/sso/session', headers: { cookie } })).statusCode, 401, 'the session ended')
    t.equal((await call()).statusCode, 401, 'the API key stopped working')
    const [k] = await gw.db.orm.em.fork().execute<{ revoked_at: unknown; owner_user_id: string }[]>('select revoked_at, owner_user_id from core_api_key where id = ?', [key.id], 'all')
    t.ok(k.revoked_at, 'the key is revoked, not deleted')
    t.equal(k.owner_user_id, userId, 'and still belongs to the user')
    const after = await gw.db.orm.em.fork().execute<{ user_id: string }[]>('select user_id from core_usage_event where api_key_id = ?', [key.id], 'all')
    t.same(after, [{ user_id: userId }], 'spend stays attributed to the user')
    t.ok(await gw.identity.getUser(userId), 'the user is kept')
    t.notOk(await gw.identity.membership(org, userId), 'no access in the organization')
    const relogin = await gw.app.inject({ method: 'POST', url: '/sso/login/password', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ organizationId: org, email: 'alan@example.com', password: 'correct horse battery staple' }) })
    t.equal(relogin.statusCode, 401, 'a deactivated user cannot sign in')

    const on = await scim('PATCH', `/Users/${ids.alan}`, patch({ op: 'replace', value: { active: true } }))
    t.equal(on.body.active, true)
    t.equal((await gw.identity.membership(org, userId))?.role, 'member', 'reactivated with their groups\' role')
  })

  await t.test('groups: role mapping, Owner only when mapped, member add and remove', async (t) => {
    await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: false, defaultRole: 'member', groupRoles: [{ group: 'Platform Admins', role: 'admin' }] })
    const grace = (await gw.identity.findUserByEmail('grace@example.com'))?.id as string
    const admins = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Platform Admins', members: [{ value: ids.grace }] })
    t.equal(admins.status, 201, JSON.stringify(admins.body))
    t.equal((await gw.identity.membership(org, grace))?.role, 'admin')
    const owners = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Owners', members: [{ value: ids.grace }] })
    t.equal(owners.status, 201)
    t.equal((await gw.identity.membership(org, grace))?.role, 'admin', 'a group named Owners grants nothing unless mapped')
    const dupe = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'owners' })
    t.equal(dupe.status, 409)
    const foreign = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'X', members: [{ value: '00000000-0000-4000-8000-000000000000' }] })
    t.equal(foreign.status, 400)

    await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: false, defaultRole: 'member', groupRoles: [{ group: 'Platform Admins', role: 'admin' }, { group: 'Owners', role: 'owner' }] })
    const touched = await scim('PATCH', `/Groups/${owners.body.id}`, patch({ op: 'add', path: 'members', value: [{ value: ids.barbara }] }))
    t.equal(touched.status, 200, JSON.stringify(touched.body))
    t.equal(touched.body.members.length, 2)
    t.equal((await gw.identity.membership(org, (await gw.identity.findUserByEmail('barbara@example.com'))?.id as string))?.role, 'owner', 'mapped explicitly: owner')

    const out = await scim('PATCH', `/Groups/${admins.body.id}`, patch({ op: 'remove', path: `members[value eq "${ids.grace}"]` }))
    t.equal(out.body.members.length, 0)
    const renamed = await scim('PATCH', `/Groups/${owners.body.id}`, patch({ op: 'replace', path: 'displayName', value: 'Former Owners' }))
    t.equal(renamed.body.displayName, 'Former Owners')
    t.equal((await gw.identity.membership(org, grace))?.role, 'member', 'renaming the group away from its rule drops the role')
    const list = await scim('GET', '/Groups?excludedAttributes=members&filter=displayName%20sw%20%22former%22')
    t.equal(list.body.totalResults, 1)
    t.notOk('members' in list.body.Resources[0])
    const byMember = await scim('GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${ids.barbara}"`)}`)
    t.equal(byMember.body.totalResults, 1)
    t.equal((await scim('DELETE', `/Groups/${owners.body.id}`)).status, 204)
    t.equal((await gw.identity.membership(org, (await gw.identity.findUserByEmail('barbara@example.com'))?.id as string))?.role, 'member')
  })

  await t.test('another organization\'s token gets 404 for this organization\'s resources', async (t) => {
    const other = await gw.identity.createOrganization({ name: 'Other', ownerUserId: gw.userId })
    const key = await gw.identity.createApiKey({ organizationId: other.id, projectId: other.defaultProjectId, ownerUserId: gw.userId, name: 'o' })
    const otherToken = (await api(gw, 'POST', `/sso/organizations/${other.id}/scim-token`, undefined, { authorization: `Bearer ${key.secret}` })).body.token
    const theirs = scimClient(gw, () => otherToken)
    t.equal((await theirs('GET', `/Users/${ids.ada}`)).status, 404)
    t.equal((await theirs('PATCH', `/Users/${ids.ada}`, patch({ op: 'replace', path: 'active', value: false }))).status, 404)
    t.equal((await theirs('PUT', `/Users/${ids.ada}`, scimUser('ada@example.com'))).status, 404)
    t.equal((await theirs('DELETE', `/Users/${ids.ada}`)).status, 404)
    t.equal((await theirs('GET', `/Users?filter=${encodeURIComponent(`id eq "${ids.ada}"`)}`)).body.totalResults, 0)
    t.equal((await theirs('GET', '/Users')).body.totalResults, 0)
    t.equal((await scim('GET', `/Users/${ids.ada}`)).body.active, true, 'untouched')
    // Their token cannot be used to reach this organization through its management routes either.
    t.equal((await api(gw, 'GET', `/sso/organizations/${org}/policy`, undefined, { authorization: `Bearer ${key.secret}` })).status, 404)
  })

  await t.test('rotation: the old token stops working at once', async (t) => {
    const old = token
    const next = await api(gw, 'POST', `/sso/organizations/${org}/scim-token`)
    token = next.body.token
    t.equal((await scim('GET', '/Users')).status, 200)
    t.equal((await scimClient(gw, () => old)('GET', '/Users')).status, 401)
    t.equal((await api(gw, 'DELETE', `/sso/organizations/${org}/scim-token`)).status, 204)
    t.equal((await scim('GET', '/Users')).status, 401, 'revoked')
    token = (await api(gw, 'POST', `/sso/organizations/${org}/scim-token`)).body.token
  })

  await t.test('DELETE deprovisions but keeps the account', async (t) => {
    const edsger = (await gw.identity.findUserByEmail('edsger@example.com'))?.id as string
    t.equal((await scim('DELETE', `/Users/${ids.edsger}`)).status, 204)
    t.equal((await scim('GET', `/Users/${ids.edsger}`)).status, 404)
    t.notOk(await gw.identity.membership(org, edsger))
    t.ok(await gw.identity.getUser(edsger))
    t.ok(events.includes('scim.user.deleted'))
  })
})
