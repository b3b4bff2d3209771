import t from 'tap'
import { CoreExtensions, definePlugin, type Principal } from '@tollgate/core'
import { createTestGateway } from '@tollgate/core/testing'

// A plugin authenticator (like the SSO plugin's sessions) can mark its principal organizationOnly:
// management authorization then treats it like an API key — its own organization only.
t.test('an organizationOnly principal acts only in its own organization', async (t) => {
  let principal: Principal | undefined
  const sessions = definePlugin({
    id: 'test-sessions',
    register(host) {
      host.services.extend(CoreExtensions.authenticators, async (request) => (request.headers['x-test-session'] ? principal : undefined))
    },
  })
  const gw = await createTestGateway({ plugins: [sessions()] })
  t.teardown(() => gw.close())
  const other = await gw.identity.createOrganization({ name: 'Other', ownerUserId: gw.userId })
  const get = async (orgId: string) => (await gw.app.inject({ method: 'GET', url: `/v1/organizations/${orgId}`, headers: { 'x-test-session': '1' } })).statusCode
  const base = { kind: 'session' as const, organizationId: gw.organizationId, userId: gw.userId, role: 'owner' as const, platformAdmin: false }

  principal = { ...base }
  t.equal(await get(other.id), 200, 'without the flag a session acts wherever its user is a member')
  principal = { ...base, organizationOnly: true }
  t.equal(await get(gw.organizationId), 200, 'its own organization')
  t.equal(await get(other.id), 404, 'another organization of the same user is invisible')
  const list = await gw.app.inject({ method: 'GET', url: '/v1/organizations', headers: { 'x-test-session': '1' } })
  t.same(JSON.parse(list.body).data.map((o: { id: string }) => o.id), [gw.organizationId], 'it lists only the organization it acts in')
  principal = { ...base, organizationOnly: true, organizationId: other.id }
  t.equal(await get(other.id), 200)
  t.equal(await get(gw.organizationId), 404)
})
