import { definePlugin } from '@tollgate/core'

/** Options of the billing plugin. This release accepts none; its schema rejects unknown keys so a setting is never silently ignored. */
export type BillingPluginConfig = Record<string, never>

/**
 * The billing plugin. Prepaid credits on an append-only ledger, exact per-request pricing, budgets enforced before the upstream call, plans and Stripe payments.
 *
 * This first release only reserves the plugin id `billing` and its place in the gateway's plugin
 * list: `register` adds no hooks, routes, tables or workers, so adding it changes nothing about
 * how requests are served. Later releases will reserve a request's maximum cost before the upstream call, settle the actual cost afterwards and take payments through Stripe.
 */
export const billingPlugin = definePlugin<BillingPluginConfig>({
  id: 'billing',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  register(host) {
    host.log.debug('billing plugin registered; this release adds no hooks or routes')
  },
})
