import { type IdentityService, type Principal, type Role, roleAtLeast } from '@tollgate/core'
import type { FastifyRequest } from 'fastify'
import { forbidden, notFound, upgradeRequired } from '../errors.js'
import type { Scope } from '../query/analytics-service.js'
import type { EntitlementPolicy } from '../config.js'

/** Decides whether an organization has the enterprise analytics views. */
export type EntitlementCheck = (organizationId: string) => Promise<boolean> | boolean

/** The caller's standing in an organization, as analytics needs it. */
export interface CallerAccess {
  principal: Principal
  organizationId: string
  role: Role
  /** Owners, admins and platform administrators see the whole organization; the others their own usage. */
  orgWide: boolean
  entitled: boolean
}

/**
 * Resolves the caller's access to an organization. Not a member (or an API key of another
 * organization) → 404, so the organization's existence is not disclosed. Mirrors core's
 * management authorization: a key acts only in its own organization with its effective role.
 */
export async function accessTo(request: FastifyRequest, identity: IdentityService, organizationId: string, entitlement: (org: string) => Promise<boolean>): Promise<CallerAccess> {
  const principal = request.principal
  if (!principal) throw notFound()
  let role: Role | undefined
  if (principal.kind === 'api_key') {
    if (principal.organizationId === organizationId) role = principal.role
  } else {
    role = (await identity.membership(organizationId, principal.userId))?.role
  }
  let orgWide = role !== undefined && roleAtLeast(role, 'admin')
  if (role === undefined) {
    if (!principal.platformAdmin) throw notFound()
    role = 'viewer'
    orgWide = true
  }
  return { principal, organizationId, role, orgWide, entitled: await entitlement(organizationId) }
}

/** The scope of a caller's query: the organization (or a project of it) for admins, their own usage otherwise. */
export function scopeFor(access: CallerAccess, projectId?: string): Scope {
  return { organizationId: access.organizationId, ...(access.orgWide ? {} : { userId: access.principal.userId }), ...(projectId ? { projectId } : {}) }
}

/** Enforces the entitlement policy on a query: organization-wide and member views, and long ranges. */
export function enforcePlan(access: CallerAccess, policy: EntitlementPolicy, what: { orgWide?: boolean; members?: boolean; days: number }): void {
  if (access.entitled) return
  if (what.members) throw upgradeRequired('Member analytics')
  if (what.orgWide) throw upgradeRequired('Organization-wide analytics (pass projectId for one project)')
  if (what.days > policy.maxDaysWithoutEntitlement) throw upgradeRequired(`A range over ${policy.maxDaysWithoutEntitlement} days`)
}

/** A member may read only their own detail; owners and admins anyone's. */
export function assertMayReadMember(access: CallerAccess, userId: string): void {
  if (!access.orgWide && access.principal.userId !== userId) throw forbidden("Only owners and admins may read another member's analytics")
}

/** The entitlement of an organization under a policy, asking a provided check first. */
export function entitlementFor(policy: EntitlementPolicy, provided: () => EntitlementCheck | undefined): (organizationId: string) => Promise<boolean> {
  const listed = new Set(policy.organizations.map((o) => o.toLowerCase()))
  return async (organizationId) => {
    if (policy.mode === 'open') return true
    if (listed.has(organizationId)) return true
    const check = provided()
    return check ? Boolean(await check(organizationId)) : false
  }
}
