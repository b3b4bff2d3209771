import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { Role } from '../context/principal.js'
import { eventMeta, type IdentityContext, idList, query, rows, toDate, toDateOrNull, transaction } from './identity-context.js'
import { conflict, invalidField, notFound } from './identity-errors.js'
import type { Actor, InvitationStatus, InvitationView } from './identity-types.js'
import { assertMayGrant, assertOrganizationProjects, insertMembership } from './memberships.js'

interface InvitationRow {
  id: string
  organization_id: string
  email: string
  role: Role
  project_ids: unknown
  invited_by: string
  expires_at: Date | string
  accepted_at: Date | string | null
  revoked_at: Date | string | null
  created_at: Date | string
}

const COLUMNS = 'id, organization_id, email, role, project_ids, invited_by, expires_at, accepted_at, revoked_at, created_at'

function statusOf(r: InvitationRow, now = Date.now()): InvitationStatus {
  if (r.accepted_at) return 'accepted'
  if (r.revoked_at) return 'revoked'
  return toDate(r.expires_at).getTime() <= now ? 'expired' : 'pending'
}

function view(r: InvitationRow): InvitationView {
  return {
    id: r.id,
    organizationId: r.organization_id,
    email: r.email,
    role: r.role,
    projectIds: idList(r.project_ids),
    invitedBy: r.invited_by,
    status: statusOf(r),
    expiresAt: toDate(r.expires_at),
    acceptedAt: toDateOrNull(r.accepted_at),
    createdAt: toDate(r.created_at),
  }
}

/** SHA-256 of an invitation token (the token has 256 random bits; only this hash is stored). */
export function hashInvitationToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** The accept link: the configured URL with the token as a query parameter. */
export function acceptLink(base: string, token: string): string {
  try {
    const url = new URL(base)
    url.searchParams.set('token', token)
    return url.toString()
  } catch {
    return `${base}${base.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
  }
}

/** A created invitation and whether the sender delivered it. */
export interface CreatedInvitation {
  invitation: InvitationView
  delivered: boolean
}

/**
 * Invites an email address into an organization with a role (never above the inviter's). Earlier
 * pending invitations of the same address are revoked; the link is sent after the transaction
 * commits. Emits member.invited.
 */
export async function createInvitation(
  ctx: IdentityContext,
  input: { organizationId: string; email: string; role: Role; projectIds?: readonly string[]; invitedBy: string },
  actor?: Actor,
): Promise<CreatedInvitation> {
  const email = input.email.trim()
  const projectIds = [...new Set(input.projectIds ?? [])]
  if (input.role !== 'developer' && projectIds.length > 0) throw invalidField('projectIds', 'is only allowed with the developer role')
  assertMayGrant(actor, input.role, projectIds)
  const token = randomBytes(32).toString('base64url')
  const expiresAt = new Date(Date.now() + ctx.invitations.ttlDays * 86_400_000)
  const { row, organizationName } = await transaction(ctx, async (em) => {
    const [org] = await rows<{ name: string }>(em, 'select name from core_organization where id = ?', [input.organizationId])
    if (!org) throw notFound('Organization')
    const member = await rows(em, 'select m.id from core_membership m join core_user u on u.id = m.user_id where m.organization_id = ? and lower(u.email) = lower(?)', [input.organizationId, email])
    if (member.length > 0) throw conflict('This email already belongs to a member of the organization', 'email')
    await assertOrganizationProjects(em, input.organizationId, projectIds)
    await rows(em, 'update core_invitation set revoked_at = now() where organization_id = ? and lower(email) = lower(?) and accepted_at is null and revoked_at is null returning id', [input.organizationId, email])
    const [row] = await rows<InvitationRow>(
      em,
      `insert into core_invitation (id, organization_id, email, role, project_ids, token_hash, invited_by, expires_at) values (?, ?, ?, ?, ?::jsonb, ?, ?, ?::timestamptz) returning ${COLUMNS}`,
      [randomUUID(), input.organizationId, email, input.role, JSON.stringify(projectIds), hashInvitationToken(token), input.invitedBy, expiresAt.toISOString()],
    )
    await ctx.events.emit('member.invited', { organizationId: input.organizationId, invitationId: row.id, email, role: input.role }, eventMeta(actor, input.organizationId, em))
    return { row, organizationName: org.name }
  })
  let delivered = true
  try {
    await ctx.invitationSender.send({ email, organizationName, role: input.role, acceptUrl: acceptLink(ctx.invitations.acceptUrl, token), expiresAt })
  } catch (err) {
    delivered = false
    ctx.log.error({ err, invitationId: row.id }, 'could not send an invitation')
  }
  return { invitation: view(row), delivered }
}

/** An organization's invitations, newest first (at most 500). */
export async function listInvitations(ctx: IdentityContext, organizationId: string): Promise<InvitationView[]> {
  const list = await query<InvitationRow>(ctx, `select ${COLUMNS} from core_invitation where organization_id = ? order by created_at desc, id limit 500`, [organizationId])
  return list.map(view)
}

/** An invitation by id. */
export async function getInvitation(ctx: IdentityContext, id: string): Promise<InvitationView | undefined> {
  const [row] = await query<InvitationRow>(ctx, `select ${COLUMNS} from core_invitation where id = ?`, [id])
  return row ? view(row) : undefined
}

/** Revokes a pending invitation (idempotent); an accepted one is a 409. */
export async function revokeInvitation(ctx: IdentityContext, id: string, actor?: Actor): Promise<InvitationView> {
  return transaction(ctx, async (em) => {
    const [row] = await rows<InvitationRow>(em, `select ${COLUMNS} from core_invitation where id = ? for update`, [id])
    if (!row) throw notFound('Invitation')
    if (row.accepted_at) throw conflict('The invitation was already accepted; remove the member instead')
    if (row.revoked_at) return view(row)
    const [after] = await rows<InvitationRow>(em, `update core_invitation set revoked_at = now() where id = ? returning ${COLUMNS}`, [id])
    await ctx.events.emit('member.invitationRevoked', { organizationId: row.organization_id, invitationId: row.id, email: row.email }, eventMeta(actor, row.organization_id, em))
    return view(after)
  })
}

/**
 * Accepts an invitation as the signed-in user: the token must be pending and addressed to the
 * user's email (anything else is a 404, so tokens cannot be probed). Grants of projects deleted
 * since are dropped. Emits member.joined.
 */
export async function acceptInvitation(ctx: IdentityContext, token: string, userId: string, actor?: Actor): Promise<{ organizationId: string; role: Role; projectIds: string[] }> {
  const result = await transaction(ctx, async (em) => {
    const [row] = await rows<InvitationRow>(em, `select ${COLUMNS} from core_invitation where token_hash = ? for update`, [hashInvitationToken(token)])
    if (!row || statusOf(row) !== 'pending') throw notFound('Invitation')
    const [user] = await rows<{ email: string }>(em, 'select email from core_user where id = ? and disabled_at is null', [userId])
    if (!user || user.email.toLowerCase() !== row.email.toLowerCase()) throw notFound('Invitation')
    const wanted = idList(row.project_ids)
    const live = wanted.length ? (await rows<{ id: string }>(em, 'select id from core_project where organization_id = ? and deleted_at is null and id in (?)', [row.organization_id, wanted])).map((p) => p.id) : []
    await insertMembership(ctx, em, { organizationId: row.organization_id, userId, role: row.role, projectIds: live }, actor)
    await rows(em, 'update core_invitation set accepted_at = now(), accepted_by = ? where id = ? returning id', [userId, row.id])
    return { organizationId: row.organization_id, role: row.role, projectIds: live }
  })
  ctx.apiKeys.invalidate()
  return result
}
