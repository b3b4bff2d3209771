import type { IdentityService, PluginHost } from '@tollgate/core'
import type Stripe from 'stripe'
import type { BillingLedger } from '../ledger/ledger-types.js'
import type { CommerceConfig } from './commerce-config.js'
import type { CommerceMetrics } from './commerce-metrics.js'

/** What the payments modules share: the host, the resolved config, the ledger and the Stripe client (absent without `stripe`). */
export interface CommerceContext {
  host: PluginHost
  config: CommerceConfig
  ledger: BillingLedger
  identity: IdentityService
  stripe?: Stripe
  /** Account keys with auto-topup enabled, so checks after debits skip every other account without a query. */
  autoTopupAccounts: Set<string>
  metrics: CommerceMetrics
}
