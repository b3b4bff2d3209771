import { createExtensionPoint } from '@tollgate/core'

/** The audit plugin's mapping shape (its `audit.eventMappings` extension point), kept structural so billing does not depend on it. */
interface AuditEventMapping {
  event: string
  action?: string
  resourceType?: string
  resourceId?: (payload: Record<string, unknown>) => string | undefined
}

/** The audit plugin's extension point, by its id (no import of the audit package needed). */
export const auditEventMappings = createExtensionPoint<AuditEventMapping>('audit.eventMappings')

const id = (name: string) => (p: Record<string, unknown>) => (typeof p[name] === 'string' ? (p[name] as string) : undefined)

/** How the payments events read in the audit trail (resource types from seed 000's list plus credits and invoices). */
export const COMMERCE_AUDIT_MAPPINGS: AuditEventMapping[] = [
  { event: 'payment.succeeded', action: 'credits.purchased', resourceType: 'credits', resourceId: id('paymentId') },
  { event: 'payment.failed', action: 'payment.failed', resourceType: 'credits', resourceId: (p) => id('paymentId')(p) ?? id('stripePaymentIntentId')(p) },
  { event: 'payment.refunded', action: 'credits.refunded', resourceType: 'credits', resourceId: id('refundId') },
  { event: 'subscription.changed', action: 'subscription.changed', resourceType: 'subscription', resourceId: id('subscriptionId') },
  { event: 'billing.creditsGifted', action: 'credits.gifted', resourceType: 'credits', resourceId: id('entryId') },
  { event: 'billing.creditsAdjusted', action: 'credits.adjusted', resourceType: 'credits', resourceId: id('entryId') },
  { event: 'billing.autoTopupChanged', action: 'settings.auto_topup_changed', resourceType: 'settings', resourceId: () => 'auto_topup' },
  { event: 'billing.discountCodeChanged', action: 'settings.discount_code_changed', resourceType: 'settings', resourceId: id('code') },
  { event: 'billing.discountRedeemed', action: 'credits.discount_redeemed', resourceType: 'credits', resourceId: id('code') },
  { event: 'billing.referralRewarded', action: 'credits.referral_rewarded', resourceType: 'credits', resourceId: id('entryId') },
  { event: 'billing.contactChanged', action: 'member.billing_contact_changed', resourceType: 'member', resourceId: id('userId') },
  { event: 'billing.invoiceChanged', action: 'invoice.changed', resourceType: 'invoice', resourceId: id('invoiceId') },
  { event: 'billing.planAssigned', action: 'subscription.plan_assigned', resourceType: 'subscription', resourceId: id('organizationId') },
  { event: 'billing.planRequested', action: 'subscription.plan_requested', resourceType: 'subscription', resourceId: id('requestId') },
]
