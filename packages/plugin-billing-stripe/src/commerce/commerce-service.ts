import { createServiceRef } from '@tollgate/core'
import type { LedgerAccountRef } from '../ledger/ledger-types.js'
import type { AutoTopupOutcome } from './auto-topup.js'

/**
 * What the payments side offers the rest of the billing plugin (and other plugins), under
 * `billing.commerce`. The metering side calls `afterDebit` after it settles usage so a balance
 * that crossed its auto-topup threshold is charged promptly (a worker sweeps as a safety net).
 */
export interface CommerceService {
  /** Checks an account's auto-topup and charges at most once per threshold crossing. */
  checkAutoTopup(account: LedgerAccountRef): Promise<AutoTopupOutcome>
  /** Fire-and-forget form of checkAutoTopup for hot paths: coalesces repeated calls per account. */
  afterDebit(account: LedgerAccountRef): void
  /** Throws TOLLGATE_ERR_PLAN_LIMIT_EXCEEDED when the organization's monthly requests or tokens are used up. */
  checkPlanLimits(organizationId: string): Promise<void>
}

/** Ref of the payments service. */
export const CommerceServiceRef = createServiceRef<CommerceService>('billing.commerce')
