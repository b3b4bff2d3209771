import type { PluginMigration } from '@tollgate/core'
import { CommercePayments } from './migrations/commerce-0101-payments.js'
import { CommercePlans } from './migrations/commerce-0102-plans.js'
import { CommerceAdmin } from './migrations/commerce-0103-admin.js'
import { CommerceInvoices } from './migrations/commerce-0104-invoices.js'

/** The payments side's migrations, in order; names never change once released. */
export const COMMERCE_MIGRATIONS: PluginMigration[] = [
  { name: 'billing:0101_payments', class: CommercePayments },
  { name: 'billing:0102_plans', class: CommercePlans },
  { name: 'billing:0103_discounts_referrals', class: CommerceAdmin },
  { name: 'billing:0104_invoices', class: CommerceInvoices },
]
