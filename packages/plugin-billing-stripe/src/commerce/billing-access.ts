import { type Principal, type Role, TollgateError } from '@tollgate/core'
import type { FastifyRequest } from 'fastify'
import type { LedgerActor } from '../ledger/ledger-types.js'
import type { CommerceContext } from './commerce-context.js'
import { one, reader } from './commerce-db.js'

/**
 * Billing actions, following seed 002's permission table:
 *
 * | action                         | platform admin | org owner/admin | billing contact |
 * |--------------------------------|----------------|-----------------|-----------------|
 * | member (own personal account)  | yes            | yes             | any member      |
 * | view (usage, invoices, history)| all            | own org         | own org         |
 * | pay (checkout, portal, topup)  | yes            | yes             | yes             |
 * | plan (change plan)             | yes            | self-serve plans; Enterprise by request | no |
 * | manage (billing contacts)      | yes            | yes             | no              |
 * | platform (gifts, adjustments, refunds, discount codes) | yes | no     | no              |
 */
export type BillingAction = 'member' | 'view' | 'pay' | 'plan' | 'manage' | 'platform'

/** Who is acting and how, once authorized. */
export interface BillingCaller {
  principal: Principal
  /** The caller's role in the organization (undefined for a platform administrator from elsewhere). */
  role?: Role
  billingContact: boolean
  platformAdmin: boolean
  actor: LedgerActor
  ip: string
  userAgent?: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function notFound(): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
}

/** True when the user is one of the organization's billing contacts. */
export async function isBillingContact(ctx: CommerceContext, organizationId: string, userId: string): Promise<boolean> {
  if (!UUID.test(organizationId) || !UUID.test(userId)) return false
  return Boolean(await one(reader(ctx.host.db), 'select user_id from billing_contact where organization_id = ? and user_id = ?', [organizationId, userId]))
}

/** The caller of a request as a ledger/audit actor. */
export function actorOfPrincipal(p: Principal): LedgerActor {
  return p.kind === 'api_key' && p.apiKeyId ? { type: 'api_key', id: p.apiKeyId } : { type: 'user', id: p.userId }
}

/**
 * Authorizes a billing action on an organization. Someone who is not a member (and not a platform
 * administrator) gets a 404, so organization ids cannot be probed; a member without the right
 * gets a 403 naming what is needed.
 */
export async function authorizeBilling(ctx: CommerceContext, request: FastifyRequest, organizationId: string | undefined, action: BillingAction): Promise<BillingCaller> {
  const principal = request.principal
  if (!principal) throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Authentication required: send an API key or sign in')
  const base = { principal, platformAdmin: principal.platformAdmin, actor: actorOfPrincipal(principal), ip: request.ip, userAgent: request.headers['user-agent'] }
  if (action === 'platform') {
    if (!principal.platformAdmin) throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Only platform administrators may do this')
    return { ...base, billingContact: false }
  }
  if (!organizationId || !UUID.test(organizationId)) throw notFound()
  let role: Role | undefined
  if (principal.kind === 'api_key') role = principal.organizationId === organizationId ? principal.role : undefined
  else role = (await ctx.identity.membership(organizationId, principal.userId))?.role
  if (principal.platformAdmin) return { ...base, role, billingContact: false }
  if (!role) throw notFound()
  if (action === 'member') return { ...base, role, billingContact: false }
  const contact = await isBillingContact(ctx, organizationId, principal.userId)
  const caller = { ...base, role, billingContact: contact }
  const admin = role === 'owner' || role === 'admin'
  if (admin) return caller
  if (contact && (action === 'view' || action === 'pay')) return caller
  if (contact) throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', action === 'plan' ? 'Billing contacts cannot change the plan; ask an owner or admin' : 'This action needs the admin role or higher')
  throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Billing needs the admin role or higher, or the billing-contact role')
}
