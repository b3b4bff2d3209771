import { randomUUID } from 'node:crypto'
import { ROLES, type Role, roleAtLeast } from '../context/principal.js'
import { type Em, eventMeta, type IdentityContext, query, rows, toDate, transaction } from './identity-context.js'
import { conflict, invalidField, notFound, roleEscalation } from './identity-errors.js'
import type { Actor, MemberView, MembershipInfo } from './identity-types.js'

interface MemberRow {
  id: string
  user_id: string
  email: string
  name: string | null
  role: Role
  created_at: Date | string
}

/** A user's membership in an organization with their developer grants, or undefined. */
export async function membership(ctx: IdentityContext, organizationId: string, userId: string): Promise<MembershipInfo | undefined> {
  const [row] = await query<{ id: string; role: Role }>(ctx, 'select id, role from core_membership where organization_id = ? and user_id = ?', [organizationId, userId])
  if (!row) return undefined
  const grants = row.role === 'developer' ? await query<{ project_id: string }>(ctx, 'select project_id from core_membership_project where membership_id = ?', [row.id]) : []
  return { id: row.id, role: row.role, projectIds: grants.map((g) => g.project_id) }
}

/** The members of an organization, most powerful first. */
export async function listMembers(ctx: IdentityContext, organizationId: string): Promise<MemberView[]> {
  const members = await query<MemberRow>(
    ctx,
    `select m.id, m.user_id, u.email, u.name, m.role, m.created_at
       from core_membership m join core_user u on u.id = m.user_id
      where m.organization_id = ? order by m.created_at, u.email`,
    [organizationId],
  )
  const grants = await query<{ membership_id: string; project_id: string }>(
    ctx,
    `select mp.membership_id, mp.project_id from core_membership_project mp
       join core_membership m on m.id = mp.membership_id where m.organization_id = ?`,
    [organizationId],
  )
  const byMember = new Map<string, string[]>()
  for (const g of grants) byMember.set(g.membership_id, [...(byMember.get(g.membership_id) ?? []), g.project_id])
  const rank = (r: Role) => ROLES.indexOf(r)
  return members
    .map((m) => ({ userId: m.user_id, email: m.email, name: m.name, role: m.role, projectIds: m.role === 'developer' ? (byMember.get(m.id) ?? []) : [], joinedAt: toDate(m.created_at) }))
    .sort((a, b) => rank(a.role) - rank(b.role))
}

/** Checks that project ids are live projects of the organization (developer grants). */
export async function assertOrganizationProjects(em: Em, organizationId: string, projectIds: readonly string[], field = 'projectIds'): Promise<void> {
  if (projectIds.length === 0) return
  const found = await rows<{ id: string }>(em, 'select id from core_project where organization_id = ? and deleted_at is null and id in (?)', [organizationId, [...projectIds]])
  const known = new Set(found.map((r) => r.id))
  const missing = projectIds.findIndex((id) => !known.has(id))
  if (missing >= 0) throw invalidField(`${field}[${missing}]`, 'is not a project of this organization')
}

/** Checks that an actor may grant `role` with these developer grants: never above their own role or grants. */
export function assertMayGrant(actor: Actor | undefined, role: Role, projectIds: readonly string[]): void {
  if (!actor) return
  if (!roleAtLeast(actor.role, role)) throw roleEscalation(`You cannot grant the ${role} role: it is above your own (${actor.role})`, 'role')
  if (actor.role === 'developer') {
    const own = new Set(actor.projectIds ?? [])
    if (projectIds.some((id) => !own.has(id))) throw roleEscalation('You cannot grant access to projects you do not have', 'projectIds')
  }
}

async function replaceGrants(em: Em, membershipId: string, projectIds: readonly string[]): Promise<void> {
  await rows(em, 'delete from core_membership_project where membership_id = ? returning project_id', [membershipId])
  for (const projectId of new Set(projectIds)) {
    await rows(em, 'insert into core_membership_project (membership_id, project_id) values (?, ?) returning project_id', [membershipId, projectId])
  }
}

/** Inserts a membership in a transaction and emits member.joined; 409 when the user is already a member. */
export async function insertMembership(
  ctx: IdentityContext,
  em: Em,
  input: { organizationId: string; userId: string; role: Role; projectIds?: readonly string[] },
  actor: Actor | undefined,
): Promise<void> {
  const projectIds = input.role === 'developer' ? (input.projectIds ?? []) : []
  await assertOrganizationProjects(em, input.organizationId, projectIds)
  const id = randomUUID()
  const inserted = await rows(em, 'insert into core_membership (id, organization_id, user_id, role) values (?, ?, ?, ?) on conflict do nothing returning id', [
    id,
    input.organizationId,
    input.userId,
    input.role,
  ])
  if (inserted.length === 0) throw conflict('The user is already a member of this organization')
  await replaceGrants(em, id, projectIds)
  await ctx.events.emit('member.joined', { organizationId: input.organizationId, userId: input.userId, role: input.role }, eventMeta(actor, input.organizationId, em))
}

/** Adds an existing user to an organization (system use: SSO provisioning, CLI). With an actor, the role rules apply. */
export async function addMember(ctx: IdentityContext, input: { organizationId: string; userId: string; role: Role; projectIds?: readonly string[] }, actor?: Actor): Promise<void> {
  assertMayGrant(actor, input.role, input.projectIds ?? [])
  await transaction(ctx, async (em) => {
    const org = await rows(em, 'select id from core_organization where id = ?', [input.organizationId])
    const user = await rows(em, 'select id from core_user where id = ?', [input.userId])
    if (org.length === 0) throw notFound('Organization')
    if (user.length === 0) throw notFound('User')
    await insertMembership(ctx, em, input, actor)
  })
  ctx.apiKeys.invalidate()
}

/** Locks the organization's owner rows and returns their count (so two owners cannot demote each other at once). */
async function lockOwners(em: Em, organizationId: string): Promise<number> {
  const owners = await rows(em, "select id from core_membership where organization_id = ? and role = 'owner' for update", [organizationId])
  return owners.length
}

async function lockedTarget(em: Em, organizationId: string, userId: string): Promise<{ id: string; role: Role }> {
  const [row] = await rows<{ id: string; role: Role }>(em, 'select id, role from core_membership where organization_id = ? and user_id = ? for update', [organizationId, userId])
  if (!row) throw notFound('Member')
  return row
}

/**
 * Changes a member's role (and developer grants). Nobody changes their own role, grants a role
 * above their own, or touches a member ranked above them; the last owner stays an owner.
 * Emits member.roleChanged; the member's keys follow at once (their effective role is capped).
 */
export async function changeMemberRole(
  ctx: IdentityContext,
  organizationId: string,
  userId: string,
  change: { role: Role; projectIds?: readonly string[] },
  actor?: Actor,
): Promise<MemberView> {
  if (actor && actor.userId === userId) throw roleEscalation('You cannot change your own role', 'role')
  if (change.role !== 'developer' && change.projectIds && change.projectIds.length > 0) throw invalidField('projectIds', 'is only allowed with the developer role')
  await transaction(ctx, async (em) => {
    const owners = await lockOwners(em, organizationId)
    const target = await lockedTarget(em, organizationId, userId)
    if (actor && !roleAtLeast(actor.role, target.role)) throw roleEscalation(`You cannot change a member whose role (${target.role}) is above yours`)
    let projectIds: readonly string[] = []
    if (change.role === 'developer') {
      if (change.projectIds) projectIds = change.projectIds
      else if (target.role === 'developer') projectIds = (await rows<{ project_id: string }>(em, 'select project_id from core_membership_project where membership_id = ?', [target.id])).map((g) => g.project_id)
    }
    assertMayGrant(actor, change.role, change.projectIds ?? [])
    if (target.role === 'owner' && change.role !== 'owner' && owners <= 1) throw conflict('The last owner of an organization cannot be demoted', 'role')
    await assertOrganizationProjects(em, organizationId, projectIds)
    if (change.role !== target.role) await rows(em, 'update core_membership set role = ? where id = ? returning id', [change.role, target.id])
    await replaceGrants(em, target.id, projectIds)
    if (change.role !== target.role) {
      await ctx.events.emit('member.roleChanged', { organizationId, userId, before: target.role, after: change.role }, eventMeta(actor, organizationId, em))
    }
  })
  ctx.apiKeys.invalidate()
  const member = (await listMembers(ctx, organizationId)).find((m) => m.userId === userId)
  if (!member) throw notFound('Member')
  return member
}

/**
 * Removes a member: their API keys in the organization are revoked, so they stay dead if the user
 * rejoins. The last owner cannot be removed, nor a member ranked above the actor. Members may
 * remove themselves (leave). Emits apiKey.revoked for each key, then member.removed.
 */
export async function removeMember(ctx: IdentityContext, organizationId: string, userId: string, actor?: Actor): Promise<void> {
  await transaction(ctx, async (em) => {
    const owners = await lockOwners(em, organizationId)
    const target = await lockedTarget(em, organizationId, userId)
    if (actor && !roleAtLeast(actor.role, target.role)) throw roleEscalation(`You cannot remove a member whose role (${target.role}) is above yours`)
    if (target.role === 'owner' && owners <= 1) throw conflict('The last owner of an organization cannot be removed')
    await rows(em, 'delete from core_membership where id = ? returning id', [target.id])
    const revoked = await rows<{ id: string }>(em, 'update core_api_key set revoked_at = now() where organization_id = ? and owner_user_id = ? and revoked_at is null returning id', [organizationId, userId])
    const meta = eventMeta(actor, organizationId, em)
    for (const key of revoked) await ctx.events.emit('apiKey.revoked', { organizationId, apiKeyId: key.id }, meta)
    await ctx.events.emit('member.removed', { organizationId, userId }, meta)
  })
  ctx.apiKeys.invalidate()
}
