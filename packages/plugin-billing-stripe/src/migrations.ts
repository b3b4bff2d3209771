import type { PluginMigration } from '@tollgate/core'
import { BillingBudgetsMigration } from './budgets/budgets-migration.js'
import { BillingLedgerMigration } from './ledger/ledger-migration.js'
import { BillingSettledRequestsMigration } from './ledger/settled-requests-migration.js'
import { BillingMeteringMigration } from './metering/metering-migration.js'

/** The ledger side's migrations (`billing:00xx_*`); the payments side's (`billing:01xx_*`) follow them. */
export const LEDGER_SIDE_MIGRATIONS: PluginMigration[] = [
  { name: 'billing:0001_ledger', class: BillingLedgerMigration },
  { name: 'billing:0002_budgets', class: BillingBudgetsMigration },
  { name: 'billing:0003_metering_alerts', class: BillingMeteringMigration },
  { name: 'billing:0004_settled_requests', class: BillingSettledRequestsMigration },
]
