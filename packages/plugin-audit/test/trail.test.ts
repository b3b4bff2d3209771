import { definePlugin, TollgateError } from '@tollgate/core'
import { AuditExtensions, MASK, PLATFORM_CHAIN } from '@tollgate/plugin-audit'
import t from 'tap'
import { auditGateway, bearer, memberKey, platformAdminKey } from './support.js'

t.test('core management actions are recorded with actor, origin, resource and a masked diff', async (t) => {
  const { gw, em } = await auditGateway(t)
  const created = await gw.app.inject({ method: 'POST', url: `/v1/organizations/${gw.organizationId}/projects`, headers: { ...bearer(gw.apiKey), 'user-agent': 'audit-test/1.0' }, payload: { name: 'Alpha' } })
  t.equal(created.statusCode, 201, created.body)
  const projectId = created.json().id as string
  const renamed = await gw.app.inject({ method: 'PATCH', url: `/v1/projects/${projectId}`, headers: bearer(gw.apiKey), payload: { name: 'Beta' } })
  t.equal(renamed.statusCode, 200, renamed.body)
  const deleted = await gw.app.inject({ method: 'DELETE', url: `/v1/projects/${projectId}`, headers: bearer(gw.apiKey) })
  t.equal(deleted.statusCode, 204, deleted.body)

  const res = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/entries?resourceId=${projectId}`, headers: bearer(gw.apiKey) })
  t.equal(res.statusCode, 200, res.body)
  const entries = res.json().data as Record<string, any>[]
  t.same(entries.map((e) => e.action), ['project.deleted', 'project.updated', 'project.created'], 'newest first, one entry per change')
  const [del, upd, cre] = entries
  t.equal(cre.resourceType, 'project')
  t.equal(cre.actor.type, 'api_key', 'the actor is the API key used')
  t.equal(cre.userAgent, 'audit-test/1.0')
  t.equal(cre.ip, '127.0.0.1')
  t.same(upd.diff, { before: { name: 'Alpha' }, after: { name: 'Beta' } })
  t.ok(del.seq > upd.seq && upd.seq > cre.seq)
  t.equal(upd.prevHash, cre.hash, 'consecutive entries link when nothing else happened between them')

  // The seeded organization's creation (system actor) is in the chain from entry 1.
  const [first] = await em().execute<{ action: string; actor_type: string }[]>('select action, actor_type from audit_entry where organization_id = ? and seq = 1', [gw.organizationId], 'all')
  t.same(first, { action: 'organization.created', actor_type: 'system' })
})

t.test('a rolled-back change leaves no entry; a committed one always has one', async (t) => {
  // A transactional subscriber of another plugin vetoes some project names: core's transaction
  // (project row and audit entry alike) rolls back.
  const veto = definePlugin({
    id: 'veto',
    register(host) {
      host.events.on('project.created', async (p) => {
        if (p.name === 'forbidden') throw new TollgateError('TOLLGATE_ERR_REQUEST_CONFLICT', 'vetoed')
      }, { transactional: true })
    },
  })
  const { gw, count, em } = await auditGateway(t, { plugins: [veto()] })
  const before = await count()
  const refused = await gw.app.inject({ method: 'POST', url: `/v1/organizations/${gw.organizationId}/projects`, headers: bearer(gw.apiKey), payload: { name: 'forbidden' } })
  t.equal(refused.statusCode, 409)
  t.equal(await count(), before, 'no entry for the rolled-back change')
  const [{ n }] = await em().execute<{ n: number }[]>("select count(*)::int as n from core_project where name = 'forbidden'", [], 'all')
  t.equal(n, 0, 'and no project')
  const [head] = await em().execute<{ seq: string }[]>('select seq from audit_chain_head where organization_id = ?', [gw.organizationId], 'all')
  t.equal(Number(head.seq), before, 'the chain head did not move')

  // A failure after the event inside the emitter's own transaction also takes the entry with it.
  await t.rejects(
    gw.db.orm.em.fork().transactional(async (tx) => {
      await gw.events.emit('project.updated', { organizationId: gw.organizationId, projectId: gw.projectId, before: { name: 'a' }, after: { name: 'b' } }, { organizationId: gw.organizationId, em: tx })
      throw new Error('the change failed after its event')
    }),
    /failed after its event/,
  )
  t.equal(await count(), before)

  const ok = await gw.app.inject({ method: 'POST', url: `/v1/organizations/${gw.organizationId}/projects`, headers: bearer(gw.apiKey), payload: { name: 'allowed' } })
  t.equal(ok.statusCode, 201)
  t.equal(await count(), before + 1, 'the committed change has its entry, with the next sequence number')
  const v = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/verify`, headers: bearer(gw.apiKey) })
  t.equal(v.json().intact, true)
})

t.test('events of other plugins: mapped by extension, derived when unknown, secrets masked', async (t) => {
  const guard = definePlugin({
    id: 'guard-like',
    register(host) {
      host.services.extend(AuditExtensions.eventMappings, { event: 'guardLike.ruleSaved', action: 'settings.guardrail_rule_saved', resourceType: 'settings', resourceId: (p) => String(p.ruleId) })
    },
  })
  const { gw } = await auditGateway(t, { plugins: [guard()] })
  const org = gw.organizationId
  const emit = gw.events.emit.bind(gw.events) as (name: string, payload: unknown, meta: object) => Promise<void>
  await emit('guardLike.ruleSaved', { organizationId: org, ruleId: 'r1', before: null, after: { pattern: 'x', webhookSecret: 'whsec_123456789' } }, { organizationId: org, actor: { type: 'user', id: gw.userId } })
  await emit('billing.creditGifted', { organizationId: org, amount: '10.00', giftId: 'g-1', note: 'thanks, key sk-abcdefghijklmnopqrstuvwx' }, { actor: { type: 'user', id: 'admin-1' } })
  await emit('guardrails.policyChanged', { organizationId: org, policyId: 'p-9', before: { mode: 'warn' }, after: { mode: 'block', apiToken: 'abc' } }, {})
  await emit('usage.somethingHot', { organizationId: org }, {})

  const res = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${org}/entries?limit=3`, headers: bearer(gw.apiKey) })
  const [policy, gift, rule] = res.json().data as Record<string, any>[]
  t.match(rule, { action: 'settings.guardrail_rule_saved', resourceType: 'settings', resourceId: 'r1', event: 'guardLike.ruleSaved' })
  t.equal(rule.diff.after.webhookSecret, MASK, 'a secret-named field is masked')
  t.match(gift, { action: 'billing.credit_gifted', resourceType: 'credits', resourceId: 'g-1', actor: { type: 'user', id: 'admin-1' } })
  t.equal(gift.details.note, `thanks, key ${MASK}`, 'a credential inside free text is masked')
  t.match(policy, { action: 'guardrails.policy_changed', resourceType: 'settings', resourceId: 'p-9', actor: { type: 'system', id: 'system' } })
  t.same(policy.diff, { before: { mode: 'warn' }, after: { mode: 'block', apiToken: MASK } })
  const hot = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${org}/entries?action=usage.*`, headers: bearer(gw.apiKey) })
  t.same(hot.json().data, [], 'ignored patterns (usage.*) are not recorded')
})

t.test('authentication events: with an organization in its chain, without one in the platform chain', async (t) => {
  const { gw, count } = await auditGateway(t)
  const emit = gw.events.emit.bind(gw.events) as (name: string, payload: unknown, meta: object) => Promise<void>
  const platformBefore = await count(PLATFORM_CHAIN)
  await emit('sso.login', { organizationId: gw.organizationId, userId: gw.userId, method: 'oidc', connectionId: 'c1', idToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl' }, { organizationId: gw.organizationId, actor: { type: 'user', id: gw.userId }, ip: '203.0.113.9', userAgent: 'Browser' })
  await emit('auth.loginFailed', { email: 'mallory@example.test', method: 'saml', reason: 'signature_invalid' }, { ip: '198.51.100.7' })
  await emit('sso.logout', { organizationId: gw.organizationId, userId: gw.userId }, { organizationId: gw.organizationId, actor: { type: 'user', id: gw.userId } })

  const res = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/entries?action=auth.*`, headers: bearer(gw.apiKey) })
  const list = res.json().data as Record<string, any>[]
  t.same(list.map((e) => e.action), ['auth.logout', 'auth.login'])
  t.match(list[1], { resourceType: 'user', resourceId: gw.userId, ip: '203.0.113.9', userAgent: 'Browser' })
  t.equal(list[1].details.idToken, MASK)
  t.equal(await count(PLATFORM_CHAIN), platformBefore + 1, 'a failed login of nobody known lands in the platform chain')
})

t.test('the database refuses to change or delete audit rows', async (t) => {
  const { gw, em, audit } = await auditGateway(t)
  await audit.checkpoint(gw.organizationId)
  for (const sql of [
    "update audit_entry set action = 'x' where organization_id = ?",
    'delete from audit_entry where organization_id = ?',
    "update audit_checkpoint set hash = 'x' where organization_id = ?",
    'delete from audit_checkpoint where organization_id = ?',
  ]) {
    await t.rejects(em().execute(sql, [gw.organizationId], 'run'), /append-only/, sql)
  }
  await t.rejects(em().execute('truncate audit_entry', [], 'run'), /append-only/, 'truncate')
  t.equal((await audit.verify(gw.organizationId)).intact, true, 'the chain is unchanged')
})

t.test('access: owners and admins read their trail, members do not, platform admins read all', async (t) => {
  const { gw } = await auditGateway(t)
  const url = `/audit/organizations/${gw.organizationId}/entries`
  const admin = await memberKey(gw, 'admin')
  const member = await memberKey(gw, 'member')
  t.equal((await gw.app.inject({ method: 'GET', url, headers: bearer(admin.secret) })).statusCode, 200, 'admin')
  const denied = await gw.app.inject({ method: 'GET', url, headers: bearer(member.secret) })
  t.equal(denied.statusCode, 403, 'member')
  t.equal(denied.json().error.code, 'TOLLGATE_ERR_AUTH_FORBIDDEN')
  t.equal((await gw.app.inject({ method: 'GET', url })).statusCode, 401, 'anonymous')

  const stranger = await gw.identity.createUser({ email: 'stranger@example.test' })
  const theirOrg = await gw.identity.createOrganization({ name: 'Elsewhere', ownerUserId: stranger.id })
  const theirKey = await gw.identity.createApiKey({ organizationId: theirOrg.id, projectId: theirOrg.defaultProjectId, ownerUserId: stranger.id, name: 'k' })
  t.equal((await gw.app.inject({ method: 'GET', url, headers: bearer(theirKey.secret) })).statusCode, 404, 'another organization\'s owner')
  t.equal((await gw.app.inject({ method: 'GET', url: '/audit/entries', headers: bearer(gw.apiKey) })).statusCode, 403, 'platform-wide list needs a platform admin')

  const padmin = await platformAdminKey(gw)
  t.equal((await gw.app.inject({ method: 'GET', url, headers: bearer(padmin) })).statusCode, 200, 'platform admin reads any organization')
  const all = await gw.app.inject({ method: 'GET', url: '/audit/entries?limit=1000', headers: bearer(padmin) })
  const orgs = new Set((all.json().data as { organizationId: string }[]).map((e) => e.organizationId))
  t.ok(orgs.has(gw.organizationId) && orgs.has(theirOrg.id), 'platform admin lists every organization')
  const put = await gw.app.inject({ method: 'PUT', url: `/audit/organizations/${gw.organizationId}/retention`, headers: bearer(padmin), payload: { mode: 'retain' } })
  t.equal(put.statusCode, 404, 'platform admins read; they do not change an organization\'s retention')
})

t.test('list: filters, cursor pagination and clear errors for bad input', async (t) => {
  const { gw } = await auditGateway(t)
  for (let i = 0; i < 7; i++) await gw.identity.createProject({ organizationId: gw.organizationId, name: `p${i}` })
  const base = `/audit/organizations/${gw.organizationId}/entries?action=project.created&limit=3`
  const seen: number[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res: { statusCode: number; json(): any } = await gw.app.inject({ method: 'GET', url: `${base}${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(gw.apiKey) })
    t.equal(res.statusCode, 200)
    const body: { data: { seq: number }[]; nextCursor: string | null } = res.json()
    seen.push(...body.data.map((e: { seq: number }) => e.seq))
    cursor = body.nextCursor
    pages++
  } while (cursor)
  t.equal(seen.length, 9, 'default project + seeded + 7 created')
  t.same([...seen].sort((a, b) => b - a), seen, 'pages continue in order without repeats')
  t.equal(new Set(seen).size, seen.length)
  t.equal(pages, 3)

  const bad = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/entries?cursor=nonsense`, headers: bearer(gw.apiKey) })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().error, { code: 'TOLLGATE_ERR_REQUEST_INVALID_BODY', field: 'cursor' })
  const badTime = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/entries?from=yesterday`, headers: bearer(gw.apiKey) })
  t.equal(badTime.statusCode, 400)
  t.match(badTime.json().error.message, /from/)
  const future = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/entries?from=2999-01-01T00:00:00Z`, headers: bearer(gw.apiKey) })
  t.same(future.json().data, [])
})

t.test('provider key management: set, rotate, delete; the key itself never reaches the trail', async (t) => {
  const { gw } = await auditGateway(t)
  const url = `/v1/projects/${gw.projectId}/provider-keys/openai`
  for (const key of ['sk-first-aaaaaaaaaaaaaaaaaaaaaaaa', 'sk-second-bbbbbbbbbbbbbbbbbbbbbbb']) {
    const res = await gw.app.inject({ method: 'PUT', url, headers: bearer(gw.apiKey), payload: { key } })
    t.equal(res.statusCode, 200, res.body)
  }
  t.equal((await gw.app.inject({ method: 'DELETE', url, headers: bearer(gw.apiKey) })).statusCode, 204)
  const res = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${gw.organizationId}/entries?resourceType=provider_key`, headers: bearer(gw.apiKey) })
  const list = res.json().data as Record<string, any>[]
  t.same(list.map((e) => e.action), ['provider_key.deleted', 'provider_key.rotated', 'provider_key.created'], 'a replaced key is recorded as a rotation')
  t.notOk(res.body.includes('sk-first') || res.body.includes('sk-second'), 'no provider key in the trail')
})
