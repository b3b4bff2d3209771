import pino from 'pino'
import t from 'tap'
import { IdentityService } from '../../src/identity/identity-service.js'
import { createManagementFixture, uniqueEmail } from '../management/fixture.js'

const f = await createManagementFixture()
t.teardown(() => f.close())

const sql = <T = any>(text: string, params: unknown[] = []) => f.db.orm.em.fork().execute<T[]>(text, params, 'all')
const log = pino({ level: 'silent' })

/** Another service on the same database (another gateway instance: its own caches). */
function otherInstance(options: { encryptionKey?: Buffer; providerKeyCacheTtlMs?: number } = {}) {
  return new IdentityService({
    db: f.db,
    events: f.events,
    apiKeys: f.apiKeys,
    encryptionKey: options.encryptionKey ?? f.encryptionKey,
    invitationSender: f.sender,
    invitations: { acceptUrl: 'https://x.test/accept', ttlDays: 1 },
    log,
    providerKeyCacheTtlMs: options.providerKeyCacheTtlMs,
  })
}

t.test('a user gets a personal organization they own, with a default project', async (t) => {
  const before = await f.identity.countUsers()
  const email = uniqueEmail('Alice')
  const user = await f.identity.createUser({ email, name: 'Alice' })
  t.equal(await f.identity.countUsers(), before + 1)
  const orgs = await f.identity.listOrganizationsForUser(user.id)
  t.equal(orgs.length, 1)
  t.match(orgs[0], { id: user.personalOrganizationId, personal: true, role: 'owner', name: 'Alice (personal)' })
  t.same((await f.identity.listProjects(user.personalOrganizationId)).map((p) => p.id), [user.defaultProjectId])
  t.equal((await f.identity.findUserByEmail(email.toUpperCase()))?.id, user.id, 'emails match case-insensitively')
  await t.rejects(f.identity.createUser({ email: email.toUpperCase() }), { code: 'TOLLGATE_ERR_REQUEST_CONFLICT', field: 'email' })
  const created = f.seen.filter((e) => e.payload.organizationId === user.personalOrganizationId).map((e) => e.name)
  t.same(created, ['organization.created', 'member.joined', 'project.created'])
  t.ok(f.seen.filter((e) => e.payload.organizationId === user.personalOrganizationId).every((e) => e.meta.em && e.meta.actor?.type === 'system'))
})

t.test('a failing transactional subscriber leaves no half-created user', async (t) => {
  const before = await f.identity.countUsers()
  const off = f.events.on('member.joined', () => {
    throw new Error('audit down')
  }, { transactional: true })
  const email = uniqueEmail('rolled-back')
  await t.rejects(f.identity.createUser({ email }), /audit down/)
  off()
  t.equal(await f.identity.countUsers(), before)
  t.equal(await f.identity.findUserByEmail(email), undefined)
})

t.test("API keys: role ceiling, developer scope, the creator's demotion, revocation, expiry", async (t) => {
  const owner = await f.identity.createUser({ email: uniqueEmail('owner') })
  const org = await f.identity.createOrganization({ name: 'Keys Inc', ownerUserId: owner.id })
  const other = await f.identity.createProject({ organizationId: org.id, name: 'other' })
  const memberUser = await f.identity.createUser({ email: uniqueEmail('member') })
  await f.identity.addMember({ organizationId: org.id, userId: memberUser.id, role: 'member' })

  await t.rejects(
    f.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: memberUser.id, name: 'x', role: 'admin' }),
    { code: 'TOLLGATE_ERR_AUTH_ROLE_ESCALATION' },
    "a key above its owner's membership role, even as a system action",
  )
  const key = await f.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: memberUser.id, name: 'member key' })
  t.equal(key.role, 'member', "defaults to the owner's role")
  t.match(key.secret, /^tg-/)
  t.equal(key.prefix, key.secret.slice(0, 11))
  t.equal((await f.apiKeys.authenticate(key.secret))?.role, 'member')

  await t.rejects(
    f.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: owner.id, name: 'x' }, { userId: memberUser.id, role: 'member' }),
    { code: 'TOLLGATE_ERR_AUTH_FORBIDDEN' },
    'keys are owned by their creator',
  )

  await f.identity.changeMemberRole(org.id, memberUser.id, { role: 'developer', projectIds: [other.id] })
  const demoted = await f.apiKeys.authenticate(key.secret)
  t.equal(demoted?.role, 'developer', 'demoting the creator demotes the key at once')
  t.same(demoted?.projectIds, [other.id])
  const actor = { userId: memberUser.id, role: 'developer' as const, projectIds: [other.id] }
  await t.rejects(
    f.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: memberUser.id, name: 'x' }, actor),
    { code: 'TOLLGATE_ERR_REQUEST_NOT_FOUND' },
    'a developer creates keys only for granted projects',
  )
  const devKey = await f.identity.createApiKey({ organizationId: org.id, projectId: other.id, ownerUserId: memberUser.id, name: 'dev' }, actor)
  t.equal(devKey.role, 'developer')

  await f.identity.revokeApiKey(devKey.id)
  t.equal(await f.apiKeys.authenticate(devKey.secret), undefined, 'revoked')
  await sql("update core_api_key set expires_at = now() - interval '1 second' where id = ? returning id", [key.id])
  f.apiKeys.invalidate()
  t.equal(await f.apiKeys.authenticate(key.secret), undefined, 'expired')

  const list = await f.identity.listApiKeys(org.id, { ownerUserId: memberUser.id })
  t.same(list.map((k) => k.id).sort(), [key.id, devKey.id].sort())
  t.notOk(JSON.stringify(list).includes(key.secret), 'no secrets in lists')
  t.ok(list.every((k) => !('secretHash' in k) && !('secret' in k)))
})

t.test('members: role rules, grants and removal', async (t) => {
  const owner = await f.identity.createUser({ email: uniqueEmail('owner') })
  const org = await f.identity.createOrganization({ name: 'Members Ltd', ownerUserId: owner.id })
  const admin = await f.identity.createUser({ email: uniqueEmail('admin') })
  await f.identity.addMember({ organizationId: org.id, userId: admin.id, role: 'admin' })
  const asAdmin = { userId: admin.id, role: 'admin' as const }
  const newcomer = await f.identity.createUser({ email: uniqueEmail('new') })
  await t.rejects(f.identity.addMember({ organizationId: org.id, userId: newcomer.id, role: 'owner' }, asAdmin), { code: 'TOLLGATE_ERR_AUTH_ROLE_ESCALATION' })
  await f.identity.addMember({ organizationId: org.id, userId: newcomer.id, role: 'developer', projectIds: [org.defaultProjectId] }, asAdmin)
  await t.rejects(f.identity.addMember({ organizationId: org.id, userId: newcomer.id, role: 'viewer' }), { code: 'TOLLGATE_ERR_REQUEST_CONFLICT' }, 'already a member')
  const foreign = await f.identity.createUser({ email: uniqueEmail('foreign') })
  await t.rejects(
    f.identity.changeMemberRole(org.id, newcomer.id, { role: 'developer', projectIds: [foreign.defaultProjectId] }),
    { code: 'TOLLGATE_ERR_REQUEST_INVALID_BODY', field: 'projectIds[0]' },
    "another organization's project cannot be granted",
  )
  t.same((await f.identity.membership(org.id, newcomer.id))?.projectIds, [org.defaultProjectId])
  const promoted = await f.identity.changeMemberRole(org.id, newcomer.id, { role: 'member' }, asAdmin)
  t.same(promoted.projectIds, [], 'grants go with the developer role')
  t.equal((await f.identity.membership(org.id, newcomer.id))?.role, 'member')
  const key = await f.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: newcomer.id, name: 'k' })
  await f.identity.removeMember(org.id, newcomer.id, asAdmin)
  t.equal(await f.identity.membership(org.id, newcomer.id), undefined)
  t.equal(await f.apiKeys.authenticate(key.secret), undefined)
  t.ok(f.seen.some((e) => e.name === 'apiKey.revoked' && e.payload.apiKeyId === key.id))
  t.ok(f.seen.some((e) => e.name === 'member.removed' && e.payload.userId === newcomer.id && e.meta.actor?.id === admin.id))
  await t.rejects(f.identity.removeMember(org.id, newcomer.id), { code: 'TOLLGATE_ERR_REQUEST_NOT_FOUND' })
  const members = await f.identity.listMembers(org.id)
  t.same(members.map((m) => m.role), ['owner', 'admin'], 'most powerful first')
})

t.test('provider keys are stored encrypted and tampering is detected', async (t) => {
  const owner = await f.identity.createUser({ email: uniqueEmail('byok') })
  const projectId = owner.defaultProjectId
  const secret = 'sk-ant-api03-PLAINTEXT-SECRET-abcd'
  const stored = await f.identity.setProviderKey({ projectId, provider: 'anthropic', key: secret, createdBy: owner.id })
  t.equal(stored.hint, '…abcd')
  const [row] = await sql('select ciphertext, key_hint from core_provider_key where id = ?', [stored.id])
  t.not(row.ciphertext, secret)
  t.notOk(row.ciphertext.includes(secret), 'ciphertext in the database is not the plaintext')
  t.notOk(row.ciphertext.includes(Buffer.from(secret).toString('base64')), 'nor its base64')
  t.equal(await f.identity.providerKeyFor(projectId, 'anthropic'), secret, 'decrypts back')
  t.equal(await otherInstance().providerKeyFor(projectId, 'anthropic'), secret, 'another instance with the same key decrypts it')
  await t.rejects(otherInstance({ encryptionKey: Buffer.alloc(32, 3) }).providerKeyFor(projectId, 'anthropic'), /does not decrypt/, 'a wrong encryption key fails closed')

  const [v, iv, tag, ct] = (row.ciphertext as string).split(':')
  const flipped = Buffer.from(ct, 'base64')
  flipped[flipped.length - 1] ^= 1
  await sql('update core_provider_key set ciphertext = ? where id = ? returning id', [[v, iv, tag, flipped.toString('base64')].join(':'), stored.id])
  await t.rejects(otherInstance().providerKeyFor(projectId, 'anthropic'), /does not decrypt/, 'tampered ciphertext fails')

  const victim = await f.identity.createUser({ email: uniqueEmail('victim') })
  await sql('insert into core_provider_key (id, organization_id, project_id, provider, ciphertext, key_hint, created_by) values (gen_random_uuid(), ?, ?, ?, ?, ?, ?) returning id', [
    victim.personalOrganizationId,
    victim.defaultProjectId,
    'anthropic',
    row.ciphertext,
    'x',
    victim.id,
  ])
  await t.rejects(otherInstance().providerKeyFor(victim.defaultProjectId, 'anthropic'), /does not decrypt/, 'a ciphertext copied into another project does not decrypt')
})

t.test('providerKeyFor serves from memory, "no key" included', async (t) => {
  const owner = await f.identity.createUser({ email: uniqueEmail('hot') })
  const service = otherInstance({ providerKeyCacheTtlMs: 200 })
  t.equal(await service.providerKeyFor(owner.defaultProjectId, 'openai'), undefined)
  // Written behind this instance's back (as another instance would): not seen until the TTL passes.
  const other = otherInstance()
  await other.setProviderKey({ projectId: owner.defaultProjectId, provider: 'openai', key: 'sk-written-elsewhere-1234', createdBy: owner.id })
  t.equal(await service.providerKeyFor(owner.defaultProjectId, 'openai'), undefined, 'the negative result is cached')
  await new Promise((r) => setTimeout(r, 250))
  t.equal(await service.providerKeyFor(owner.defaultProjectId, 'openai'), 'sk-written-elsewhere-1234', 'seen after the TTL')
  // A positive result is served from memory too: deleted behind this instance's back, still answered until the TTL.
  await sql('delete from core_provider_key where project_id = ? and provider = ? returning id', [owner.defaultProjectId, 'openai'])
  t.equal(await service.providerKeyFor(owner.defaultProjectId, 'openai'), 'sk-written-elsewhere-1234', 'the positive result is cached')
  await new Promise((r) => setTimeout(r, 250))
  t.equal(await service.providerKeyFor(owner.defaultProjectId, 'openai'), undefined, 'the deletion is seen after the TTL')
})

t.test('projects: unique names among live projects, soft delete, developer filter', async (t) => {
  const owner = await f.identity.createUser({ email: uniqueEmail('proj') })
  const orgId = owner.personalOrganizationId
  const a = await f.identity.createProject({ organizationId: orgId, name: 'alpha' })
  await t.rejects(f.identity.createProject({ organizationId: orgId, name: 'alpha' }), { code: 'TOLLGATE_ERR_REQUEST_CONFLICT', field: 'name' })
  const b = await f.identity.createProject({ organizationId: orgId, name: 'beta' })
  await t.rejects(f.identity.updateProject(b.id, { name: 'alpha' }), { code: 'TOLLGATE_ERR_REQUEST_CONFLICT' })
  t.equal((await f.identity.updateProject(b.id, { name: 'gamma' })).name, 'gamma')
  await f.identity.deleteProject(a.id)
  t.equal(await f.identity.getProject(a.id), undefined)
  t.equal((await f.identity.createProject({ organizationId: orgId, name: 'alpha' })).name, 'alpha', 'a deleted name can be reused')
  t.same((await f.identity.listProjects(orgId, [b.id])).map((p) => p.id), [b.id])
  t.same(await f.identity.listProjects(orgId, []), [])
  await t.rejects(f.identity.deleteProject(a.id), { code: 'TOLLGATE_ERR_REQUEST_NOT_FOUND' })
  t.ok(f.seen.some((e) => e.name === 'project.deleted' && e.payload.projectId === a.id && e.meta.em))
})
