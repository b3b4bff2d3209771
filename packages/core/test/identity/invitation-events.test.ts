import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'

t.test('invitations emit member.invited and member.invitationRevoked inside their transactions', async (t) => {
  const gw = await createTestGateway()
  t.teardown(() => gw.close())
  const seen: { name: string; payload: unknown; inTransaction: boolean }[] = []
  for (const name of ['member.invited', 'member.invitationRevoked'] as const) {
    gw.events.on(name, (payload, meta) => void seen.push({ name, payload, inTransaction: meta.em !== undefined }), { transactional: true })
  }
  const created = await gw.identity.createInvitation({ organizationId: gw.organizationId, email: 'new.member@example.test', role: 'member', invitedBy: gw.userId })
  const id = created.invitation.id
  await gw.identity.revokeInvitation(id, { userId: gw.userId, role: 'owner' })
  t.same(seen.map((s) => s.name), ['member.invited', 'member.invitationRevoked'])
  t.match(seen[1].payload, { organizationId: gw.organizationId, invitationId: id, email: 'new.member@example.test' })
  t.ok(seen.every((s) => s.inTransaction), 'subscribers get the transaction (audit writes in it)')
  await gw.identity.revokeInvitation(id)
  t.equal(seen.length, 2, 'revoking again changes nothing and emits nothing')
})
