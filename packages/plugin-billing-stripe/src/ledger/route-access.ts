import { CoreServices, createServiceRef, type PluginHost, type Principal, type Role, roleAtLeast, TollgateError } from '@tollgate/core'
import type { FastifyRequest } from 'fastify'
import { isUuid } from './account-directory.js'

/**
 * Who else may act on an organization's billing besides its owners and admins: the payments side
 * provides this (the billing-contact role of the permissions table) under `billingContactsRef`.
 */
export interface BillingContacts {
  isBillingContact(organizationId: string, userId: string): Promise<boolean>
}

/** The billing-contact lookup, "billing.contacts" (optional). */
export const billingContactsRef = createServiceRef<BillingContacts>('billing.contacts')

/** What a caller wants to do with an organization's billing. */
export type BillingAction = 'read' | 'manage'

/**
 * Checks a billing route's caller against seed 002's permissions table: platform administrators
 * may do everything; owners and admins of the organization may read and manage its billing
 * (usage, balance, budgets, alerts); billing contacts too. Anyone else — including members of
 * other organizations — gets 404 (no existence leak) or 403 (a member below the role).
 */
export async function requireBillingAccess(host: PluginHost, request: FastifyRequest, organizationId: string, action: BillingAction, options: { minRole?: Role } = {}): Promise<Principal> {
  const p = request.principal
  if (!p) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Authentication required')
  if (!isUuid(organizationId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
  if (p.platformAdmin) return p
  const role = await roleIn(host, p, organizationId)
  if (!role) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
  const minRole = options.minRole ?? 'admin'
  if (roleAtLeast(role, minRole)) return p
  const contacts = host.services.find(billingContactsRef)
  if (contacts && (await contacts.isBillingContact(organizationId, p.userId))) return p
  throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', `${action === 'read' ? 'Reading' : 'Changing'} this organization's billing needs the ${minRole} role or the billing-contact role`)
}

/** The caller's role in an organization (a key acts only in its own), or undefined. */
export async function roleIn(host: PluginHost, p: Principal, organizationId: string): Promise<Role | undefined> {
  if (p.kind === 'api_key') return p.organizationId === organizationId ? p.role : undefined
  if (p.organizationId === organizationId) return p.role
  const m = await host.services.get(CoreServices.identity).membership(organizationId, p.userId)
  return m?.role
}
