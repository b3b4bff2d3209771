import type { MetricsRegistry } from '@tollgate/core'
import type { Counter } from 'prom-client'

/** The payments side's metrics (bounded labels only). */
export interface CommerceMetrics {
  /** Payments credited or failed, by kind (credit_package, auto_topup, development, subscription_invoice) and outcome. */
  payments: Counter<'kind' | 'outcome'>
  /** Stripe webhooks by outcome (processed, duplicate, ignored, rejected). */
  webhooks: Counter<'outcome'>
  /** Auto-topup checks by outcome. */
  autoTopup: Counter<'outcome'>
  /** Requests refused by a plan limit, by limit (requests, tokens). */
  planRefusals: Counter<'limit'>
}

/** Registers the payments metrics on the gateway's registry. */
export function createCommerceMetrics(metrics: MetricsRegistry): CommerceMetrics {
  return {
    payments: metrics.counter({ name: 'tollgate_billing_payments_total', help: 'Payments credited (outcome=succeeded) or failed, by kind', labelNames: ['kind', 'outcome'] }),
    webhooks: metrics.counter({ name: 'tollgate_billing_stripe_webhooks_total', help: 'Stripe webhooks received, by outcome', labelNames: ['outcome'] }),
    autoTopup: metrics.counter({ name: 'tollgate_billing_auto_topup_checks_total', help: 'Auto-topup checks, by outcome', labelNames: ['outcome'] }),
    planRefusals: metrics.counter({ name: 'tollgate_billing_plan_limit_refusals_total', help: 'Requests refused before the upstream by a plan limit, by limit', labelNames: ['limit'] }),
  }
}
