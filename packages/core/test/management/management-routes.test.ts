import Fastify from 'fastify'
import t from 'tap'
import type { ModelCatalog } from '../../src/catalog/model-catalog.js'
import { hashApiKey } from '../../src/identity/api-key-secret.js'
import { hashInvitationToken } from '../../src/identity/invitations.js'
import type { IdentityService } from '../../src/identity/identity-service.js'
import { registerManagementRoutes } from '../../src/management/management-routes.js'
import type { RoutingService } from '../../src/routing/routing-service.js'
import { EventBus } from '../../src/events/event-bus.js'
import pino from 'pino'
import { createManagementFixture, uniqueEmail } from './fixture.js'

const f = await createManagementFixture()
t.teardown(() => f.close())

const sql = <T = any>(text: string, params: unknown[] = []) => f.db.orm.em.fork().execute<T[]>(text, params, 'all')
const tokenOf = (link: string) => new URL(link).searchParams.get('token') as string

/** An organization with an owner and the owner's key. */
async function organization(name = 'Org') {
  const owner = await f.identity.createUser({ email: uniqueEmail('owner') })
  const org = await f.identity.createOrganization({ name, ownerUserId: owner.id })
  const key = await f.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: owner.id, name: 'owner key' })
  return { org, owner: { userId: owner.id, key: key.secret, keyId: key.id } }
}

t.test('a management route without an authz rule stops the gateway from starting', async (t) => {
  const app = Fastify()
  const deps = { identity: {} as IdentityService, catalog: {} as ModelCatalog, routing: {} as RoutingService, events: new EventBus(pino({ level: 'silent' })), authenticate: async () => undefined }
  let thrown: unknown
  app.register(async (scope) => {
    await registerManagementRoutes(scope, deps)
    try {
      scope.get('/v1/unprotected', async () => ({ ok: true }))
    } catch (err) {
      thrown = err
      throw err
    }
  })
  await t.rejects(async () => app.ready(), /has no config\.authz rule/)
  t.match(String(thrown), /GET \/v1\/unprotected has no config\.authz rule/)
  const withRule = Fastify()
  withRule.register(async (scope) => {
    await registerManagementRoutes(scope, deps)
    scope.get('/v1/protected', { config: { authz: { scope: { kind: 'none' }, minRole: 'viewer' } } }, async () => ({ ok: true }))
  })
  await t.resolves(async () => withRule.ready(), 'a route with a rule registers')
  await withRule.close()
  await app.close().catch(() => undefined)
})

t.test('nobody grants a role above their own or changes their own role', async (t) => {
  const { org, owner } = await organization()
  const admin = await f.member(org.id, 'admin')
  const member = await f.member(org.id, 'member')
  const viewer = await f.member(org.id, 'viewer')
  const escalation = 'TOLLGATE_ERR_AUTH_ROLE_ESCALATION'

  let res = await f.call(admin.key, 'PATCH', `/v1/organizations/${org.id}/members/${viewer.userId}`, { role: 'owner' })
  t.equal(res.statusCode, 403)
  t.equal(res.json().error.code, escalation, 'an admin cannot make an owner')
  res = await f.call(admin.key, 'POST', `/v1/organizations/${org.id}/invitations`, { email: uniqueEmail('x'), role: 'owner' })
  t.equal(res.json().error.code, escalation, 'an admin cannot invite an owner')
  res = await f.call(admin.key, 'PATCH', `/v1/organizations/${org.id}/members/${admin.userId}`, { role: 'viewer' })
  t.equal(res.json().error.code, escalation, 'an admin cannot change their own role (even down)')
  res = await f.call(owner.key, 'PATCH', `/v1/organizations/${org.id}/members/${owner.userId}`, { role: 'admin' })
  t.equal(res.json().error.code, escalation, 'an owner cannot change their own role')
  res = await f.call(admin.key, 'PATCH', `/v1/organizations/${org.id}/members/${owner.userId}`, { role: 'viewer' })
  t.equal(res.json().error.code, escalation, 'an admin cannot demote an owner')
  res = await f.call(admin.key, 'DELETE', `/v1/organizations/${org.id}/members/${owner.userId}`)
  t.equal(res.json().error.code, escalation, 'an admin cannot remove an owner')
  res = await f.call(member.key, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'k', role: 'admin' })
  t.equal(res.json().error.code, escalation, 'a member cannot create an admin key')
  t.equal(res.json().error.field, 'role')

  res = await f.call(admin.key, 'PATCH', `/v1/organizations/${org.id}/members/${viewer.userId}`, { role: 'admin' })
  t.equal(res.statusCode, 200, 'an admin may grant up to admin')
  t.equal(res.json().role, 'admin')
  t.ok(f.seen.some((e) => e.name === 'member.roleChanged' && e.payload.userId === viewer.userId && e.payload.after === 'admin' && e.meta.em))
  res = await f.call(owner.key, 'PATCH', `/v1/organizations/${org.id}/members/${viewer.userId}`, { role: 'viewer', projectIds: [org.defaultProjectId] })
  t.equal(res.statusCode, 400, 'project grants only with the developer role')
  t.equal(res.json().error.field, 'projectIds')
})

t.test('the last owner cannot be removed or demoted', async (t) => {
  const { org, owner } = await organization()
  const second = await f.member(org.id, 'owner')
  let res = await f.call(second.key, 'DELETE', `/v1/organizations/${org.id}/members/${owner.userId}`)
  t.equal(res.statusCode, 204, 'an owner may remove another owner')
  res = await f.call(second.key, 'DELETE', `/v1/organizations/${org.id}/members/${second.userId}`)
  t.equal(res.statusCode, 409, 'the last owner cannot leave')
  await t.rejects(f.identity.changeMemberRole(org.id, second.userId, { role: 'admin' }), { code: 'TOLLGATE_ERR_REQUEST_CONFLICT' }, 'nor be demoted, even by the system')
  await t.rejects(f.identity.removeMember(org.id, second.userId), { code: 'TOLLGATE_ERR_REQUEST_CONFLICT' })
  t.equal((await f.call(owner.key, 'GET', '/v1/me')).statusCode, 401, "the removed owner's key is dead")
})

t.test("a key never exceeds its creator's role, and follows the creator down", async (t) => {
  const { org, owner } = await organization()
  const admin = await f.member(org.id, 'admin')
  const created = await f.call(admin.key, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'admin made' })
  t.equal(created.statusCode, 201)
  t.equal(created.json().role, 'admin', 'the role defaults to the creator’s')
  t.equal(created.headers['cache-control'], 'no-store')
  const secret = created.json().secret as string
  t.equal((await sql('select secret_hash from core_api_key where id = ?', [created.json().id]))[0].secret_hash, hashApiKey(secret), 'only the hash is stored')
  t.equal((await f.call(secret, 'GET', `/v1/organizations/${org.id}/invitations`)).statusCode, 200, 'the key acts as admin')

  const demoted = await f.call(owner.key, 'PATCH', `/v1/organizations/${org.id}/members/${admin.userId}`, { role: 'viewer' })
  t.equal(demoted.statusCode, 200)
  t.equal((await f.call(secret, 'GET', '/v1/me')).json().role, 'viewer', "the key's effective role follows its creator at once")
  t.equal((await f.call(secret, 'GET', `/v1/organizations/${org.id}/invitations`)).statusCode, 403)
  const viewerKey = await f.call(secret, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'x' })
  t.equal(viewerKey.statusCode, 403, 'a viewer creates no keys')

  const viewerMadeByOwner = await f.call(owner.key, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'read only', role: 'viewer' })
  const readOnly = viewerMadeByOwner.json().secret as string
  t.equal((await f.call(readOnly, 'GET', '/v1/me')).json().role, 'viewer', 'an owner may create a lesser key')
  const further = await f.call(readOnly, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'x', role: 'owner' })
  t.equal(further.statusCode, 403, 'a lesser key cannot mint a stronger one')
})

t.test('revoked and expired keys are rejected', async (t) => {
  const { org, owner } = await organization()
  const made = await f.call(owner.key, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'short', expiresAt: new Date(Date.now() + 1500).toISOString(), appName: 'cli' })
  t.equal(made.statusCode, 201)
  t.equal(made.json().appName, 'cli')
  const shortLived = made.json().secret as string
  t.equal((await f.call(shortLived, 'GET', '/v1/me')).statusCode, 200)
  await new Promise((r) => setTimeout(r, 1600))
  const expired = await f.call(shortLived, 'GET', '/v1/me')
  t.equal(expired.statusCode, 401, 'an expired key is rejected even while cached')
  t.equal(expired.json().error.code, 'TOLLGATE_ERR_AUTH_INVALID_KEY')

  const past = await f.call(owner.key, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'past', expiresAt: '2000-01-01T00:00:00Z' })
  t.equal(past.statusCode, 400)
  t.equal(past.json().error.field, 'expiresAt')

  const other = await f.call(owner.key, 'POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId, name: 'to revoke' })
  const secret = other.json().secret as string
  t.equal((await f.call(secret, 'GET', '/v1/me')).statusCode, 200)
  t.equal((await f.call(owner.key, 'DELETE', `/v1/keys/${other.json().id}`)).statusCode, 204)
  t.equal((await f.call(secret, 'GET', '/v1/me')).statusCode, 401, 'a revoked key is rejected at once')
  t.equal((await f.call(owner.key, 'DELETE', `/v1/keys/${other.json().id}`)).statusCode, 204, 'revoking twice is fine')
  const shown = await f.call(owner.key, 'GET', `/v1/keys/${other.json().id}`)
  t.ok(shown.json().revokedAt, 'the key shows its revocation time')
  t.notOk('secret' in shown.json(), 'the secret is never shown again')
  t.equal(f.seen.filter((e) => e.name === 'apiKey.revoked' && e.payload.apiKeyId === other.json().id).length, 1, 'one apiKey.revoked event')

  await f.apiKeys.flushLastUsed()
  const mine = await f.call(owner.key, 'GET', `/v1/keys/${owner.keyId}`)
  t.ok(mine.json().lastUsedAt, 'last-used time is recorded')
})

t.test('deleting a project stops its keys; removing a member revokes theirs', async (t) => {
  const { org, owner } = await organization()
  const project = (await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/projects`, { name: 'temp' })).json()
  const key = (await f.call(owner.key, 'POST', '/v1/keys', { organizationId: org.id, projectId: project.id, name: 'temp key' })).json()
  t.equal((await f.call(key.secret, 'GET', '/v1/me')).statusCode, 200)
  t.equal((await f.call(owner.key, 'DELETE', `/v1/projects/${project.id}`)).statusCode, 204)
  t.equal((await f.call(key.secret, 'GET', '/v1/me')).statusCode, 401)
  t.equal((await f.call(owner.key, 'GET', `/v1/projects/${project.id}`)).statusCode, 404)

  const member = await f.member(org.id, 'member')
  t.equal((await f.call(owner.key, 'DELETE', `/v1/organizations/${org.id}/members/${member.userId}`)).statusCode, 204)
  t.equal((await f.call(member.key, 'GET', '/v1/me')).statusCode, 401)
  const [row] = await sql('select revoked_at from core_api_key where id = ?', [member.keyId])
  t.ok(row.revoked_at, "the removed member's key is revoked, so it stays dead if they rejoin")
})

t.test('invitation flow end to end', async (t) => {
  const { org, owner } = await organization('Acme')
  const project = (await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/projects`, { name: 'inv-project' })).json()
  const email = uniqueEmail('invitee')
  const created = await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/invitations`, { email, role: 'developer', projectIds: [project.id] })
  t.equal(created.statusCode, 201, created.body)
  t.match(created.json(), { email, role: 'developer', projectIds: [project.id], status: 'pending', delivered: true })
  t.notOk(/token/i.test(created.body), 'the token is not in the response')
  const message = f.sender.sent.at(-1)
  t.match(message, { email, organizationName: 'Acme', role: 'developer' })
  t.ok(message?.acceptUrl.startsWith('https://gateway.example.test/invitations/accept?token='))
  const token = tokenOf(message?.acceptUrl ?? '')
  const [stored] = await sql('select token_hash from core_invitation where id = ?', [created.json().id])
  t.equal(stored.token_hash, hashInvitationToken(token), 'only the hash of the token is stored')
  t.notOk(JSON.stringify(await sql('select * from core_invitation')).includes(token), 'the token itself is nowhere in the table')
  t.ok(f.seen.some((e) => e.name === 'member.invited' && e.payload.invitationId === created.json().id && e.meta.em))

  const listed = await f.call(owner.key, 'GET', `/v1/organizations/${org.id}/invitations`)
  t.equal(listed.json().data[0].id, created.json().id)

  // Someone else holding the link cannot use it.
  const stranger = await f.identity.createUser({ email: uniqueEmail('stranger') })
  const strangerKey = (await f.identity.createApiKey({ organizationId: stranger.personalOrganizationId, projectId: stranger.defaultProjectId, ownerUserId: stranger.id, name: 's' })).secret
  t.equal((await f.call(strangerKey, 'POST', '/v1/invitations/accept', { token })).statusCode, 404)

  // The invitee signs up (personal organization), then accepts with their own key.
  const invitee = await f.identity.createUser({ email: email.toUpperCase() })
  const inviteeKey = (await f.identity.createApiKey({ organizationId: invitee.personalOrganizationId, projectId: invitee.defaultProjectId, ownerUserId: invitee.id, name: 'mine' })).secret
  t.equal((await f.call(inviteeKey, 'POST', '/v1/invitations/accept', { token: 'not-a-token' })).statusCode, 404)
  const accepted = await f.call(inviteeKey, 'POST', '/v1/invitations/accept', { token })
  t.equal(accepted.statusCode, 200, accepted.body)
  t.same(accepted.json(), { organizationId: org.id, role: 'developer', projectIds: [project.id] })
  t.equal((await f.call(inviteeKey, 'POST', '/v1/invitations/accept', { token })).statusCode, 404, 'a token works once')
  t.ok(f.seen.some((e) => e.name === 'member.joined' && e.payload.organizationId === org.id && e.payload.userId === invitee.id && e.meta.em))
  const members = (await f.call(owner.key, 'GET', `/v1/organizations/${org.id}/members`)).json().data
  t.match(members.find((m: { userId: string }) => m.userId === invitee.id), { role: 'developer', projectIds: [project.id] })
  t.equal((await f.call(owner.key, 'GET', `/v1/organizations/${org.id}/invitations`)).json().data[0].status, 'accepted')
  const both = await f.identity.listOrganizationsForUser(invitee.id)
  t.same(both.map((o) => o.id).sort(), [invitee.personalOrganizationId, org.id].sort(), 'the user now belongs to two organizations')

  // Already a member: inviting again conflicts.
  const again = await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/invitations`, { email, role: 'viewer' })
  t.equal(again.statusCode, 409)

  // Revoked and expired invitations cannot be accepted.
  const revokedEmail = uniqueEmail('revoked')
  const revoked = (await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/invitations`, { email: revokedEmail, role: 'viewer' })).json()
  const revokedToken = tokenOf(f.sender.sent.at(-1)?.acceptUrl ?? '')
  t.equal((await f.call(owner.key, 'DELETE', `/v1/invitations/${revoked.id}`)).statusCode, 204)
  const revokedUser = await f.identity.createUser({ email: revokedEmail })
  const revokedKey = (await f.identity.createApiKey({ organizationId: revokedUser.personalOrganizationId, projectId: revokedUser.defaultProjectId, ownerUserId: revokedUser.id, name: 'r' })).secret
  t.equal((await f.call(revokedKey, 'POST', '/v1/invitations/accept', { token: revokedToken })).statusCode, 404)
  await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/invitations`, { email: revokedEmail, role: 'viewer' })
  const expiringToken = tokenOf(f.sender.sent.at(-1)?.acceptUrl ?? '')
  await sql("update core_invitation set expires_at = now() - interval '1 minute' where token_hash = ? returning id", [hashInvitationToken(expiringToken)])
  t.equal((await f.call(revokedKey, 'POST', '/v1/invitations/accept', { token: expiringToken })).statusCode, 404, 'an expired invitation is a 404')

  // A sender that fails does not lose the invitation.
  f.sender.fail = true
  const undelivered = await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/invitations`, { email: uniqueEmail('late'), role: 'viewer' })
  f.sender.fail = false
  t.equal(undelivered.statusCode, 201)
  t.equal(undelivered.json().delivered, false)
})

t.test('validation errors are 400 TOLLGATE_ERR_REQUEST_INVALID_BODY naming the field', async (t) => {
  const { org, owner } = await organization()
  const cases: [string, string, unknown, string][] = [
    ['POST', `/v1/organizations/${org.id}/projects`, { name: 5 }, 'name'],
    ['POST', `/v1/organizations/${org.id}/projects`, {}, 'name'],
    ['POST', `/v1/organizations/${org.id}/projects`, { name: 'ok', color: 'red' }, 'color'],
    ['POST', `/v1/organizations/${org.id}/invitations`, { email: 'not an email', role: 'viewer' }, 'email'],
    ['POST', `/v1/organizations/${org.id}/invitations`, { email: uniqueEmail('x'), role: 'superuser' }, 'role'],
    ['GET', `/v1/keys?organizationId=${org.id}&limit=0`, undefined, 'limit'],
    ['PUT', `/v1/projects/${org.defaultProjectId}/provider-keys/Open%20AI`, { key: 'sk-0123456789' }, 'provider'],
    ['PUT', `/v1/projects/${org.defaultProjectId}/provider-keys/openai`, { key: 'short' }, 'key'],
    ['POST', '/v1/keys', { organizationId: org.id, projectId: org.defaultProjectId }, 'name'],
  ]
  for (const [method, url, body, field] of cases) {
    const res = await f.call(owner.key, method as never, url, body)
    t.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(body)}: ${res.body}`)
    t.equal(res.json().error.code, 'TOLLGATE_ERR_REQUEST_INVALID_BODY')
    t.equal(res.json().error.field, field)
    t.match(res.json().error.message, field)
  }
  const noOrg = await f.call(owner.key, 'GET', '/v1/keys')
  t.equal(noOrg.statusCode, 400)
  t.equal(noOrg.json().error.field, 'organizationId')
})

t.test('provider keys: encrypted at rest, hints only over the API, served to the proxy from memory', async (t) => {
  const { org, owner } = await organization()
  const secret = 'sk-proj-THIS-IS-A-SECRET-9876'
  const put = await f.call(owner.key, 'PUT', `/v1/projects/${org.defaultProjectId}/provider-keys/openai`, { key: secret, label: 'team key' })
  t.equal(put.statusCode, 200, put.body)
  t.match(put.json(), { provider: 'openai', label: 'team key', hint: '…9876' })
  t.notOk(put.body.includes(secret))
  const list = await f.call(owner.key, 'GET', `/v1/projects/${org.defaultProjectId}/provider-keys`)
  t.equal(list.json().data.length, 1)
  t.notOk(list.body.includes(secret), 'the list has no secrets')
  t.notOk(list.body.includes('ciphertext'))
  const [row] = await sql('select ciphertext from core_provider_key where project_id = ?', [org.defaultProjectId])
  t.not(row.ciphertext, secret)
  t.notOk(row.ciphertext.includes(secret))
  t.match(row.ciphertext, /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/)
  t.equal(await f.identity.providerKeyFor(org.defaultProjectId, 'openai'), secret, 'decrypts back')
  t.equal(await f.identity.providerKeyFor(org.defaultProjectId, 'anthropic'), undefined)

  const replaced = await f.call(owner.key, 'PUT', `/v1/projects/${org.defaultProjectId}/provider-keys/openai`, { key: 'sk-proj-REPLACED-1111' })
  t.equal(replaced.json().id, put.json().id, 'replacing keeps the row')
  t.equal(await f.identity.providerKeyFor(org.defaultProjectId, 'openai'), 'sk-proj-REPLACED-1111', 'a change here is seen at once')
  t.equal((await f.call(owner.key, 'DELETE', `/v1/projects/${org.defaultProjectId}/provider-keys/openai`)).statusCode, 204)
  t.equal(await f.identity.providerKeyFor(org.defaultProjectId, 'openai'), undefined)
  t.equal((await f.call(owner.key, 'DELETE', `/v1/projects/${org.defaultProjectId}/provider-keys/openai`)).statusCode, 404)
  t.ok(f.seen.some((e) => e.name === 'providerKey.created' && e.meta.em))
  t.ok(f.seen.some((e) => e.name === 'providerKey.deleted' && e.meta.em))
})

t.test('the model catalog: exact decimal prices, platform administrators edit', async (t) => {
  const { org } = await organization()
  const admin = await f.member(org.id, 'owner', { platformAdmin: true })
  const put = await f.call(admin.key, 'PUT', '/v1/catalog/models/gpt-test', {
    provider: 'openai',
    upstreamModel: 'gpt-test-2026',
    prices: { input: '0.000001', output: '999999999999.999999', cachedRead: '0.075' },
    contextWindow: 128000,
  })
  t.equal(put.statusCode, 200, put.body)
  t.same(put.json().prices, { input: '0.000001', output: '999999999999.999999', cachedRead: '0.075', cacheWrite: '0.000001' })
  t.same(put.json().marketPrices, put.json().prices, 'market prices default to prices')
  t.equal(f.catalog.get('gpt-test')?.prices.output, 999999999999999999n, 'stored exactly as microdollars')
  const list = await f.call(admin.key, 'GET', '/v1/catalog/models')
  t.ok(list.json().data.some((m: { name: string }) => m.name === 'gpt-test'))
  const tooPrecise = await f.call(admin.key, 'PUT', '/v1/catalog/models/gpt-test', { provider: 'openai', prices: { input: '0.0000001' } })
  t.equal(tooPrecise.statusCode, 400)
  t.equal(tooPrecise.json().error.field, 'prices.input')
  const huge = await f.call(admin.key, 'PUT', '/v1/catalog/models/gpt-test', { provider: 'openai', prices: { input: '1000000000000' } })
  t.equal(huge.statusCode, 400, 'a price beyond the bigint column is refused')
  const float = await f.call(admin.key, 'PUT', '/v1/catalog/models/gpt-test', { provider: 'openai', prices: { input: 0.15 } })
  t.equal(float.statusCode, 400, 'a JSON number is refused: prices are decimal strings')
  t.ok(f.seen.some((e) => e.name === 'model.updated' && e.payload.model === 'gpt-test'))
  t.equal((await f.call(admin.key, 'DELETE', '/v1/catalog/models/gpt-test')).statusCode, 204)
  t.equal((await f.call(admin.key, 'DELETE', '/v1/catalog/models/gpt-test')).statusCode, 404)
  t.equal(f.catalog.get('gpt-test'), undefined)
})

t.test('a failing transactional subscriber rolls the change back', async (t) => {
  const { org, owner } = await organization()
  const off = f.events.on('project.created', () => {
    throw new Error('audit store unavailable')
  }, { transactional: true })
  const res = await f.call(owner.key, 'POST', `/v1/organizations/${org.id}/projects`, { name: 'doomed' })
  off()
  t.equal(res.statusCode, 500)
  t.equal(res.json().error.code, 'TOLLGATE_ERR_SERVER_INTERNAL')
  t.notOk(res.body.includes('audit store'), 'internal details stay in the log')
  t.same(await sql("select id from core_project where name = 'doomed'"), [], 'the project was not created')
})

t.test('organizations: create, list, get, rename', async (t) => {
  const { org, owner } = await organization('Original')
  const created = await f.call(owner.key, 'POST', '/v1/organizations', { name: 'Second Org' })
  t.equal(created.statusCode, 201, created.body)
  t.match(created.json(), { name: 'Second Org', slug: 'second-org', personal: false, role: 'owner' })
  t.ok(created.json().defaultProjectId)
  const dup = await f.call(owner.key, 'POST', '/v1/organizations', { name: 'Second Org' })
  t.match(dup.json().slug, /^second-org-[0-9a-f]{8}$/, 'a taken slug gets a suffix')
  const mine = await f.call(owner.key, 'GET', '/v1/organizations')
  t.same(mine.json().data.map((o: { id: string }) => o.id), [org.id], 'an API key lists only its own organization')
  t.equal((await f.identity.listOrganizationsForUser(owner.userId)).length, 4, 'the user belongs to personal + three')
  const renamed = await f.call(owner.key, 'PATCH', `/v1/organizations/${org.id}`, { name: 'Renamed' })
  t.match(renamed.json(), { name: 'Renamed', slug: 'original' })
  t.ok(f.seen.some((e) => e.name === 'organization.updated' && e.payload.organizationId === org.id && e.payload.after.name === 'Renamed'))
  t.equal((await f.call(owner.key, 'PATCH', `/v1/organizations/${org.id}`, {})).statusCode, 400, 'an empty patch is invalid')
})

t.test('the OpenAPI document describes every management route', async (t) => {
  const doc = f.app.swagger() as { paths: Record<string, Record<string, any>> }
  let operations = 0
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      operations++
      t.ok(op.summary, `${method} ${path} has a summary`)
      t.ok(op.tags?.length, `${method} ${path} has tags`)
      t.ok(Object.keys(op.responses ?? {}).some((s) => s.startsWith('2')), `${method} ${path} documents its success`)
      t.ok(op.responses?.['404'] && op.responses?.['401'], `${method} ${path} documents its errors`)
      if (['post', 'put', 'patch'].includes(method)) t.ok(op.requestBody, `${method} ${path} documents its body`)
    }
  }
  t.equal(operations, 42)
})
