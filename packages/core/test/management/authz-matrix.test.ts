// The authorization matrix: every management route (collected from the route table) × every role
// × the caller's own organization and another one. Other organization → 404; below the route's
// minRole → 403; at or above → success. Platform routes: 403 for everyone but platform admins.
import t from 'tap'
import { ROLES, type Role, roleAtLeast } from '../../src/context/principal.js'
import type { RouteAuthz } from '../../src/server/fastify-types.js'
import { modelFromConfig } from '../../src/catalog/model-catalog.js'
import { createManagementFixture, type TestMember, uniqueEmail } from './fixture.js'

const f = await createManagementFixture()
t.teardown(() => f.close())

// Two organizations: A holds the callers, B is "another organization".
const ownerA = await f.identity.createUser({ email: uniqueEmail('owner-a') })
const orgA = await f.identity.createOrganization({ name: 'Org A', ownerUserId: ownerA.id })
const ownerB = await f.identity.createUser({ email: uniqueEmail('owner-b') })
const orgB = await f.identity.createOrganization({ name: 'Org B', ownerUserId: ownerB.id })

const callers = {} as Record<Role, TestMember>
const platformCallers = {} as Record<Role, TestMember>
for (const role of ROLES) {
  const projectIds = role === 'developer' ? [orgA.defaultProjectId] : undefined
  callers[role] = await f.member(orgA.id, role, { projectIds, keyProjectId: orgA.defaultProjectId })
  platformCallers[role] = await f.member(orgA.id, role, { projectIds, keyProjectId: orgA.defaultProjectId, platformAdmin: true })
}

let seq = 0
const fresh = (tag: string) => `${tag}-${++seq}`

interface Target {
  orgId: string
  ownerId: string
  caller: TestMember
  own: boolean
}

/** A fresh project in the target organization, granted to the caller when they are a developer there. */
async function freshProject(target: Target): Promise<string> {
  const project = await f.identity.createProject({ organizationId: target.orgId, name: fresh('project') })
  if (target.own && target.caller.role === 'developer') {
    const me = await f.identity.membership(target.orgId, target.caller.userId)
    await f.identity.changeMemberRole(target.orgId, target.caller.userId, { role: 'developer', projectIds: [...(me?.projectIds ?? []), project.id] })
  }
  return project.id
}

/** The case's project: made once per case, shared by its path and body. */
async function projectOf(target: Target, state: { projectId?: string }): Promise<string> {
  if (!state.projectId) state.projectId = await freshProject(target)
  return state.projectId
}

/** Fills a path parameter with a fresh resource the caller is entitled to in their own organization (or one of the other organization). */
async function param(name: string, target: Target, state: { projectId?: string; model?: string }): Promise<string> {
  switch (name) {
    case 'organizationId':
      return target.orgId
    case 'projectId':
      return projectOf(target, state)
    case 'keyId': {
      const projectId = await projectOf(target, state)
      const ownerUserId = target.own ? target.caller.userId : target.ownerId
      return (await f.identity.createApiKey({ organizationId: target.orgId, projectId, ownerUserId, name: fresh('key') })).id
    }
    case 'invitationId':
      return (await f.identity.createInvitation({ organizationId: target.orgId, email: uniqueEmail('invitee'), role: 'viewer', invitedBy: target.ownerId })).invitation.id
    case 'userId': {
      const user = await f.identity.createUser({ email: uniqueEmail('target') })
      await f.identity.addMember({ organizationId: target.orgId, userId: user.id, role: 'viewer' })
      return user.id
    }
    case 'provider': {
      const projectId = await projectOf(target, state)
      await f.identity.setProviderKey({ projectId, provider: 'openai', key: 'sk-matrix-0123456789', createdBy: target.ownerId })
      return 'openai'
    }
    case 'name': {
      const name = fresh('model')
      await f.catalog.upsert(modelFromConfig({ name, provider: 'mock', prices: { input: '1', output: '2' } }))
      state.model = name
      return name
    }
    case 'providerId': {
      const id = fresh('provider')
      await f.routing.putProvider(id, { kind: 'mock', enabled: true }, { userId: target.ownerId, role: 'owner' })
      return id
    }
    case 'deploymentId': {
      const id = fresh('deployment')
      await f.routing.putDeployment({ id, model: state.model!, provider: 'mock', upstreamModel: 'echo', weight: 1, priority: 0, attributes: [], limits: {}, enabled: true }, { userId: target.ownerId, role: 'owner' })
      return id
    }
  }
  throw new Error(`the matrix does not know how to fill :${name}; teach it`)
}

/** A valid body for each route that takes one (keyed by "METHOD url"). */
const bodies: Record<string, (target: Target, state: { projectId?: string }) => Promise<unknown>> = {
  'POST /v1/organizations': async () => ({ name: fresh('org') }),
  'PATCH /v1/organizations/:organizationId': async () => ({ name: fresh('renamed') }),
  'POST /v1/organizations/:organizationId/projects': async () => ({ name: fresh('project') }),
  'PATCH /v1/projects/:projectId': async () => ({ name: fresh('project') }),
  'PATCH /v1/organizations/:organizationId/members/:userId': async () => ({ role: 'viewer' }),
  'POST /v1/organizations/:organizationId/invitations': async () => ({ email: uniqueEmail('invitee'), role: 'viewer' }),
  'POST /v1/invitations/accept': async (target) => {
    // An invitation addressed to the caller, into an organization of its own.
    const org = await f.identity.createOrganization({ name: fresh('inviting'), ownerUserId: ownerB.id })
    await f.identity.createInvitation({ organizationId: org.id, email: target.caller.email, role: 'viewer', invitedBy: ownerB.id })
    const link = f.sender.sent.at(-1)?.acceptUrl ?? ''
    return { token: new URL(link).searchParams.get('token') }
  },
  'POST /v1/keys': async (target, state) => ({ organizationId: target.orgId, projectId: await projectOf(target, state), name: fresh('key') }),
  'PUT /v1/projects/:projectId/provider-keys/:provider': async () => ({ key: 'sk-matrix-abcdefghijkl', label: 'matrix' }),
  'PUT /v1/catalog/models/:name': async () => ({ provider: 'mock', prices: { input: '0.15', output: '0.6' } }),
  'PUT /v1/providers/:providerId': async () => ({ kind: 'mock', attributes: ['soc2'], limits: { rpm: 100 } }),
  'PUT /v1/catalog/models/:name/deployments/:deploymentId': async () => ({ provider: 'mock', weight: 2, region: 'eu-west-1' }),
  'PUT /v1/routing/policy': async () => ({ retry: { maxAttempts: 3 } }),
  'PUT /v1/organizations/:organizationId/routing-policy': async () => ({ compliance: { require: ['soc2'] } }),
  'PUT /v1/projects/:projectId/routing-policy': async () => ({ regions: ['eu'], providerOrder: ['mock'] }),
}
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH'])

async function request(route: { method: string; url: string }, target: Target) {
  const state: { projectId?: string; model?: string } = {}
  let url = route.url
  for (const name of route.url.match(/:(\w+)/g) ?? []) url = url.replace(name, await param(name.slice(1), target, state))
  const key = `${route.method} ${route.url}`
  let body: unknown
  if (BODY_METHODS.has(route.method)) {
    const make = bodies[key]
    if (!make) throw new Error(`no sample body for ${key}; add one to the matrix`)
    body = await make(target, state)
  }
  if (key === 'GET /v1/keys') url += `?organizationId=${target.orgId}`
  return f.call(target.caller.key, route.method as never, url, body)
}

const routes = f.routes.filter((r) => r.method !== 'HEAD')

t.test('the route table is complete and every route has an authorization rule', async (t) => {
  t.equal(routes.length, 42, 'every management route is in the matrix')
  for (const r of routes) t.ok(r.config?.authz, `${r.method} ${r.url} has config.authz`)
})

for (const route of routes) {
  const authz = route.config.authz as RouteAuthz
  const label = `${route.method} ${route.url} (${authz.scope.kind}, min ${authz.minRole})`
  t.test(label, async (t) => {
    for (const role of ROLES) {
      if (authz.scope.kind === 'platform') {
        const plain = await request(route, { orgId: orgA.id, ownerId: ownerA.id, caller: callers[role], own: true })
        t.equal(plain.statusCode, 403, `${role} (not a platform admin) → 403: ${plain.body}`)
        const admin = await request(route, { orgId: orgA.id, ownerId: ownerA.id, caller: platformCallers[role], own: true })
        if (roleAtLeast(role, authz.minRole)) t.ok(admin.statusCode >= 200 && admin.statusCode < 300, `platform admin ${role} → ${admin.statusCode}: ${admin.body}`)
        else t.equal(admin.statusCode, 403, `platform admin ${role} below ${authz.minRole} → 403`)
        continue
      }
      const own = await request(route, { orgId: orgA.id, ownerId: ownerA.id, caller: callers[role], own: true })
      if (roleAtLeast(role, authz.minRole)) t.ok(own.statusCode >= 200 && own.statusCode < 300, `${role}, own organization → ${own.statusCode}: ${own.body}`)
      else {
        t.equal(own.statusCode, 403, `${role}, own organization, below ${authz.minRole} → 403: ${own.body}`)
        t.equal(own.json().error.code, 'TOLLGATE_ERR_AUTH_FORBIDDEN')
      }
      if (authz.scope.kind === 'none') continue
      const other = await request(route, { orgId: orgB.id, ownerId: ownerB.id, caller: callers[role], own: false })
      t.equal(other.statusCode, 404, `${role}, other organization → 404: ${other.body}`)
      t.equal(other.json().error.code, 'TOLLGATE_ERR_REQUEST_NOT_FOUND')
    }
  })
}

t.test('every route answers 401 without a key and with an unknown key', async (t) => {
  for (const route of routes) {
    const url = route.url.replace(/:(\w+)/g, '00000000-0000-4000-8000-000000000000')
    const none = await f.call(undefined, route.method as never, url, BODY_METHODS.has(route.method) ? {} : undefined)
    t.equal(none.json().error?.code, 'TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', `${route.method} ${route.url} without a key`)
    const bad = await f.call(`tg-${'x'.repeat(43)}`, route.method as never, url, BODY_METHODS.has(route.method) ? {} : undefined)
    t.equal(bad.json().error?.code, 'TOLLGATE_ERR_AUTH_INVALID_KEY', `${route.method} ${route.url} with an unknown key`)
  }
})

t.test('a developer is limited to their granted projects', async (t) => {
  const dev = callers.developer
  const other = await f.identity.createProject({ organizationId: orgA.id, name: fresh('not-granted') })
  for (const url of [`/v1/projects/${other.id}`, `/v1/projects/${other.id}/provider-keys`]) {
    const res = await f.call(dev.key, 'GET', url)
    t.equal(res.statusCode, 404, `GET ${url} → 404 for a developer without the grant`)
  }
  const list = await f.call(dev.key, 'GET', `/v1/organizations/${orgA.id}/projects`)
  const ids = list.json().data.map((p: { id: string }) => p.id)
  t.notOk(ids.includes(other.id), 'the project list shows only granted projects')
  t.ok(ids.includes(orgA.defaultProjectId))
  const key = await f.call(dev.key, 'POST', '/v1/keys', { organizationId: orgA.id, projectId: other.id, name: 'sneaky' })
  t.equal(key.statusCode, 404, 'no key for a project outside the grants')
  const othersKey = await f.identity.createApiKey({ organizationId: orgA.id, projectId: other.id, ownerUserId: ownerA.id, name: 'owner key' })
  t.equal((await f.call(dev.key, 'GET', `/v1/keys/${othersKey.id}`)).statusCode, 404, "another project's key is invisible")
})

t.test('below admin, members see and revoke only their own keys', async (t) => {
  const member = callers.member
  const ownerKey = await f.identity.createApiKey({ organizationId: orgA.id, projectId: orgA.defaultProjectId, ownerUserId: ownerA.id, name: fresh('owner-key') })
  t.equal((await f.call(member.key, 'GET', `/v1/keys/${ownerKey.id}`)).statusCode, 404)
  t.equal((await f.call(member.key, 'DELETE', `/v1/keys/${ownerKey.id}`)).statusCode, 404)
  const listed = (await f.call(member.key, 'GET', `/v1/keys?organizationId=${orgA.id}`)).json().data as { ownerUserId: string }[]
  t.ok(listed.length > 0 && listed.every((k) => k.ownerUserId === member.userId), 'the list holds only my keys')
  const adminList = (await f.call(callers.admin.key, 'GET', `/v1/keys?organizationId=${orgA.id}`)).json().data as { ownerUserId: string }[]
  t.ok(adminList.some((k) => k.ownerUserId !== callers.admin.userId), 'an admin sees everyone’s keys')
  t.equal((await f.call(callers.admin.key, 'DELETE', `/v1/keys/${ownerKey.id}`)).statusCode, 204, 'an admin may revoke any key')
})

t.test('platform administrators may read every organization but not change it', async (t) => {
  const admin = platformCallers.viewer
  t.equal((await f.call(admin.key, 'GET', `/v1/organizations/${orgB.id}`)).statusCode, 200)
  t.equal((await f.call(admin.key, 'PATCH', `/v1/organizations/${orgB.id}`, { name: 'taken over' })).statusCode, 404)
  t.equal((await f.call(admin.key, 'GET', `/v1/organizations/${orgB.id}/members`)).statusCode, 403, 'reads above viewer stay closed')
})

t.test('authorization runs before validation: an outsider never sees schema errors', async (t) => {
  const outsider = callers.owner
  const invalid = { nonsense: true }
  const cases: [string, string, unknown][] = [
    ['POST', `/v1/organizations/${orgB.id}/projects`, invalid],
    ['PATCH', `/v1/organizations/${orgB.id}/members/${ownerB.id}`, invalid],
    ['POST', `/v1/organizations/${orgB.id}/invitations`, invalid],
    ['POST', '/v1/keys', { organizationId: orgB.id, nonsense: true }],
    ['PUT', `/v1/projects/${orgB.defaultProjectId}/provider-keys/openai`, invalid],
  ]
  for (const [method, url, body] of cases) {
    const res = await f.call(outsider.key, method as never, url, body)
    t.equal(res.statusCode, 404, `${method} ${url} with an invalid body → 404, not 400`)
  }
  const low = await f.call(callers.viewer.key, 'POST', `/v1/organizations/${orgA.id}/projects`, invalid)
  t.equal(low.statusCode, 403, 'a role too low gets 403 before validation')
  const malformed = await f.call(outsider.key, 'GET', '/v1/organizations/not-a-uuid')
  t.equal(malformed.statusCode, 404, 'a malformed id is a 404')
})
