import type { Change } from '@tollgate/core'

/** Domain events of the payments side, emitted inside the transaction of the change they describe. */
declare module '@tollgate/core' {
  interface DomainEvents {
    /** A payment was credited to an account (checkout, auto-topup or development grant). */
    'payment.succeeded': { organizationId: string; userId?: string; paymentId: string; kind: string; amountCents: number; credits: string; stripePaymentIntentId?: string }
    /** A payment failed; `code`/`message` are Stripe's. */
    'payment.failed': { organizationId: string; userId?: string; paymentId?: string; kind: string; code?: string; message?: string; stripePaymentIntentId?: string }
    /** A refund was debited from the account's credits. */
    'payment.refunded': { organizationId: string; userId?: string; paymentId: string; refundId: string; amountCents: number; credits: string }
    /** An organization's (or developer's) subscription changed. */
    'subscription.changed': { organizationId: string; userId?: string; subscriptionId: string } & Change
    /** A platform administrator gifted credits. */
    'billing.creditsGifted': { organizationId: string; userId?: string; entryId: string; amount: string; reason: string } & Change
    /** A platform administrator adjusted credits (positive or negative). */
    'billing.creditsAdjusted': { organizationId: string; userId?: string; entryId: string; amount: string; reason: string } & Change
    /** Auto-topup settings changed. */
    'billing.autoTopupChanged': { organizationId: string; userId?: string } & Change
    /** Discount codes: created, updated, redeemed. */
    'billing.discountCodeChanged': { code: string } & Change
    'billing.discountRedeemed': { organizationId: string; code: string; paymentId: string }
    /** A referrer was credited for a referred organization's first purchase. */
    'billing.referralRewarded': { organizationId: string; referredOrganizationId: string; entryId: string; amount: string }
    /** Billing contacts of an organization changed. */
    'billing.contactChanged': { organizationId: string; userId: string } & Change
    /** A monthly invoice was issued or changed status. */
    'billing.invoiceChanged': { organizationId: string; invoiceId: string } & Change
    /** An organization's plan was assigned by a platform administrator, or requested by its admin. */
    'billing.planAssigned': { organizationId: string } & Change
    'billing.planRequested': { organizationId: string; requestId: string; plan: string; interval?: string; note?: string }
  }
}
