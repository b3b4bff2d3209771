import { createServiceRef } from '@tollgate/core'
import type { BudgetStore } from '../budgets/budget-store.js'
import type { MeterService } from '../metering/meter-service.js'
import type { AccountDirectory } from './account-directory.js'
import type { BillingLedger } from './ledger-types.js'

/** The credit ledger, provided by the billing plugin as "billing.ledger". */
export const billingLedgerRef = createServiceRef<BillingLedger>('billing.ledger')

/** Credit accounts by owner (ids, the account a member's requests are billed to), "billing.accounts". */
export const billingAccountsRef = createServiceRef<AccountDirectory>('billing.accounts')

/** Organization budgets (spend caps per period), "billing.budgets". */
export const billingBudgetsRef = createServiceRef<BudgetStore>('billing.budgets')

/** Generic meters (record usage, read summaries), "billing.meters". */
export const billingMetersRef = createServiceRef<MeterService>('billing.meters')

/** Operational controls of the billing plugin on this instance (shutdown scripts, tests, diagnostics). */
export interface BillingControl {
  /** Writes every settled request charge still queued on this instance to the ledger. */
  flush(): Promise<void>
  /** Runs the usage-settlement worker once here (settles usage events no instance wrote; releases expired leases). */
  settleUsageEvents(): Promise<void>
  /** Runs the meter-settlement worker once here. */
  settleMeters(): Promise<void>
  /** Resolves when every alert started so far has been delivered or has failed. */
  alertsIdle(): Promise<void>
  /** This instance's leases: pool key, held, unreserved headroom and reservations in flight (picodollars). */
  leases(): { pool: string; held: bigint; headroom: bigint; reservations: number }[]
  /** The id of this instance in billing_lease. */
  readonly instanceId: string
}

/** "billing.control": operational controls of this instance's billing. */
export const billingControlRef = createServiceRef<BillingControl>('billing.control')
