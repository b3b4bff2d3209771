/**
 * @tollgate/plugin-billing-stripe — prepaid credits on an append-only ledger, exact per-request
 * pricing and generic meters, budgets enforced before the upstream call, alerts, plans and
 * Stripe payments. Public surface only.
 */
import './alerts/alert-types.js'

// The plugin and its options
export { billingPlugin, type BillingPluginConfig } from './plugin.js'
export { type LedgerSideConfig, DEFAULT_METER_PRICES, DEFAULT_GAUGE_METERS } from './config.js'
export { BILLING_LEDGER_ERRORS, type BillingLedgerErrorCode } from './errors.js'

// The ledger
export {
  LEDGER_TX_TYPES,
  type LedgerTxType,
  type LedgerAccountRef,
  type LedgerActor,
  type PostLedgerEntry,
  type LedgerEntry,
  type PostResult,
  type LedgerVerification,
  type BillingLedger,
  type RequestSettlement,
} from './ledger/ledger-types.js'
export { billingLedgerRef, billingAccountsRef, billingBudgetsRef, billingMetersRef, billingControlRef, type BillingControl } from './ledger/ledger-service.js'
export type { AccountDirectory } from './ledger/account-directory.js'
export { entryJson, verificationJson } from './ledger/ledger-routes.js'
export { verifyLedger, runVerifyLedgerCli } from './ledger/verify-command.js'
export { requireBillingAccess, billingContactsRef, type BillingContacts, type BillingAction } from './ledger/route-access.js'

// Pricing and metering
export { maxCostOf, inputTokensBound, modelOutputLimit, type MaxCost } from './pricing/max-cost.js'
export { savingsOf, usageDebitKey, type RequestCharge } from './pricing/request-charge.js'
export { meterCost, type MeterService, type MeterDefinition, type MeterEvent, type MeterUsageInput } from './metering/meter-service.js'

// Budgets and organization settings
export { billingSettingsRef, type OrgSettingsStore, type OrgBillingSettings, type OrgBillingSettingsPatch } from './budgets/org-settings.js'
export { type BudgetStore, type Budget, type BudgetScope, type BudgetSubject, BUDGET_SCOPES, applicableBudgets, describeBudget } from './budgets/budget-store.js'
export { periodBounds, localDate, localMidnight, assertTimezone, BUDGET_PERIODS, type BudgetPeriod, type PeriodBounds } from './budgets/periods.js'

// Payments, plans and invoices
export { CommerceServiceRef, type CommerceService } from './commerce/commerce-service.js'

// Alerts
export { billingEmailSenderRef, type BillingEmailSender, type BillingEmail, type BillingAlert } from './alerts/alert-types.js'
export { webhookBody } from './alerts/webhook-delivery.js'
