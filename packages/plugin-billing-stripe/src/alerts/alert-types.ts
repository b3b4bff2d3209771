import { createServiceRef } from '@tollgate/core'

/** A billing alert: a low balance or a budget threshold crossed. Money in picodollars. */
export type BillingAlert =
  | {
      kind: 'low_balance'
      /** Stable per crossing: the same alert is never delivered twice. */
      alertKey: string
      organizationId: string
      /** Set for a member's personal (developer-plan) account. */
      userId?: string
      accountId: string
      balance: bigint
      threshold: bigint
      message: string
      at: Date
    }
  | {
      kind: 'budget_threshold'
      alertKey: string
      organizationId: string
      budgetId: string
      budgetScope: string
      budgetName?: string
      /** The member, project or API key of the allowance ('-' for organization-wide). */
      subjectId: string
      /** The threshold crossed, percent of the limit (80, 95, 100 or a custom one). */
      percent: number
      spent: bigint
      limit: bigint
      periodStart: Date
      periodEnd: Date
      message: string
      at: Date
    }

/** An email the billing plugin wants sent. */
export interface BillingEmail {
  to: string[]
  subject: string
  text: string
  alert: BillingAlert
}

/** Sends billing emails; provide one under `billingEmailSenderRef` (SMTP, an email API…). Without one, emails are logged. */
export interface BillingEmailSender {
  send(email: BillingEmail): Promise<void>
}

/** The pluggable email sender of billing alerts, "billing.emailSender". */
export const billingEmailSenderRef = createServiceRef<BillingEmailSender>('billing.emailSender')

declare module '@tollgate/core' {
  interface DomainEvents {
    /** A billing alert fired (once per crossing, across instances). */
    'billing.alert': BillingAlert
  }
}
