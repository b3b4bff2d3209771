import { CoreServices, type PluginHost } from '@tollgate/core'
import type { BillingLedger, LedgerAccountRef, LedgerEntry } from '../ledger/ledger-types.js'
import { accountKey } from './accounts.js'
import { checkAutoTopup, loadAutoTopupAccounts, sweepAutoTopups } from './auto-topup.js'
import { commerceConfigSchemaProperties, resolveCommerceConfig } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import type { Em } from './commerce-db.js'
import './commerce-errors.js'
import './commerce-events.js'
import { billingContactsRef } from '../ledger/route-access.js'
import { COMMERCE_AUDIT_MAPPINGS, auditEventMappings } from './audit-mappings.js'
import { isBillingContact } from './billing-access.js'
import { createCommerceMetrics } from './commerce-metrics.js'
import { COMMERCE_MIGRATIONS } from './commerce-migrations.js'
import { type CommerceService, CommerceServiceRef } from './commerce-service.js'
import { issueLastMonthInvoices } from './invoices.js'
import { PlanLimitGuard, assertSeat } from './plan-limits.js'
import { adminRoutes } from './routes/admin-routes.js'
import { paymentRoutes } from './routes/payment-routes.js'
import { planRoutes } from './routes/plan-routes.js'
import { reportRoutes } from './routes/report-routes.js'
import { webhookRoutes } from './routes/webhook-routes.js'
import { createStripeClient } from './stripe-client.js'
import { runSubscriptionMaintenance } from './subscriptions.js'
import { addToRollup, foldUsage, ROLLUP_CONSUMER } from './usage-rollup.js'
import type { UsageFold } from '../ledger/usage-settlement-worker.js'

/**
 * The payments side of the billing plugin: Stripe (checkout, webhooks, auto-topup, refunds,
 * portal, development mode), plans and subscriptions with their limits, invoices and reports,
 * gifts, discount codes and referrals. The billing plugin's `register` calls this after the
 * ledger exists.
 */
export interface CommerceDeps {
  ledger: BillingLedger
}

/** JSON Schema (properties) of the payments part of the plugin config, merged into the plugin's schema. */
export const commerceConfigProperties: Record<string, unknown> = commerceConfigSchemaProperties

/** Migrations of the payments side (named `billing:01xx_<what>`), appended after the ledger's. */
export const commerceMigrations = COMMERCE_MIGRATIONS

/**
 * Wires the payments side into the plugin host:
 * - routes under /billing (authenticated) and POST /billing/stripe/webhook (Stripe-signed);
 * - a `beforeUpstream` hook enforcing the plan's monthly request/token limits (before the
 *   upstream call; the hook before it is whatever the plugin registered earlier, the one after is
 *   the next plugin's) and an `onComplete` hook counting the request toward them;
 * - transactional subscribers on member.invited / member.joined enforcing plan seats;
 * - workers: the auto-topup sweep, monthly invoices, developer-plan credits (the usage rollup is
 *   returned as a fold for the ledger side's usage-event worker, which reads the events once for both);
 * - the `billing.commerce` service (auto-topup checks after debits, plan-limit checks).
 */
export function registerCommerce(host: PluginHost, config: Record<string, unknown>, deps: CommerceDeps): { service: CommerceService; usageFold: UsageFold; rollupEveryMs: number } {
  const resolved = resolveCommerceConfig(config)
  const ctx: CommerceContext = {
    host,
    config: resolved,
    ledger: deps.ledger,
    identity: host.services.get(CoreServices.identity),
    stripe: resolved.stripe ? createStripeClient(resolved.stripe) : undefined,
    autoTopupAccounts: new Set(),
    metrics: createCommerceMetrics(host.metrics),
  }
  const guard = new PlanLimitGuard(ctx)

  host.hooks.add('beforeUpstream', async (rc) => guard.check(rc.principal.organizationId))
  host.hooks.add('onComplete', async (rc) => {
    // Refused and failed requests without usage do not count toward the plan's requests.
    if (rc.usage && ((rc.status ?? 500) < 400 || rc.usage.inputTokens + rc.usage.outputTokens > 0)) guard.record(rc.principal.organizationId, rc.usage.inputTokens + rc.usage.outputTokens)
  })

  host.events.on('member.invited', (p, meta) => (meta.em ? assertSeat(ctx, meta.em as Em, p.organizationId, 'invite') : undefined), { transactional: true })
  host.events.on('member.joined', (p, meta) => (meta.em ? assertSeat(ctx, meta.em as Em, p.organizationId, 'join', p.userId) : undefined), { transactional: true })
  host.events.on('subscription.changed', (p) => guard.invalidate(p.organizationId))

  // Auto-topup checks requested from hot paths are coalesced per account and run off the request.
  // A debit that arrives while a check runs asks for one more check after it (the running one
  // may have read the balance before that debit committed).
  const pending = new Map<string, { run: Promise<unknown>; again: boolean }>()
  const afterDebit = (account: LedgerAccountRef) => {
    const key = accountKey(account)
    if (!ctx.autoTopupAccounts.has(key)) return
    const current = pending.get(key)
    if (current) {
      current.again = true
      return
    }
    const entry = { run: Promise.resolve() as Promise<unknown>, again: false }
    const loop = async () => {
      do {
        entry.again = false
        await new Promise((r) => setTimeout(r, 5))
        await checkAutoTopup(ctx, account)
      } while (entry.again)
    }
    entry.run = loop()
      .catch((err) => host.log.error({ err, account }, 'auto-topup check failed'))
      .finally(() => pending.delete(key))
    pending.set(key, entry)
  }
  // After every debit this instance writes (request settlement, meters), check that account's auto-topup. The
  // ledger's optional onPosted (not part of the BillingLedger contract) gives it at once; without
  // it, the usage.recorded subscription does; the sweep worker is the fallback of both. (Only
  // without it: while anything subscribes to usage.recorded, core keeps every usage event object
  // until its batch is written, which a gateway at full load pays for in garbage collection.)
  const observable = deps.ledger as BillingLedger & { onPosted?: (listener: (entries: LedgerEntry[]) => void) => void }
  if (observable.onPosted) {
    observable.onPosted((entries) => {
      for (const e of entries) if (e.amount < 0n) afterDebit(e.userId ? { organizationId: e.organizationId, userId: e.userId } : { organizationId: e.organizationId })
    })
  } else host.events.on('usage.recorded', ({ events }) => {
    const seen = new Set<string>()
    for (const e of events) {
      if (seen.has(e.organizationId)) continue
      seen.add(e.organizationId)
      afterDebit({ organizationId: e.organizationId })
    }
  })
  host.hooks.add('onClose', async () => {
    guard.close()
    await Promise.allSettled([...pending.values()].map((p) => p.run))
  })

  // The usage rollup has no worker of its own: the ledger side's usage-settlement worker feeds it
  // from the same read of the usage events (see `usageFold`), every `rollupEveryMs` at the latest.
  // The plan-credit grants write through the worker's own transaction (PGlite has one
  // connection: a second transaction opened inside a worker run would wait on it forever).
  host.workers.add({ name: 'billing.subscription-maintenance', intervalMs: 3_600_000, run: async ({ em }) => void (await runSubscriptionMaintenance(ctx, em as Em)) })
  // These call Stripe and open transactions of their own, so the worker only starts them; they are
  // safe to overlap across instances (a conditional UPDATE disarms auto-topup, invoices are unique
  // per organization and month).
  const sweep = detached(host, 'auto-topup sweep', () => sweepAutoTopups(ctx))
  host.hooks.add('onReady', async () => void (await loadAutoTopupAccounts(ctx)))
  const invoices = detached(host, 'monthly invoices', () => issueLastMonthInvoices(ctx))
  host.workers.add({ name: 'billing.auto-topup-sweep', intervalMs: resolved.autoTopup.checkEveryMs, run: async () => sweep.start() })
  host.workers.add({ name: 'billing.monthly-invoices', intervalMs: resolved.invoices.generateEveryMs, run: async () => invoices.start() })
  host.hooks.add('onClose', async () => {
    await Promise.allSettled([sweep.running(), invoices.running()])
  })

  host.routes('/billing', async (app) => {
    await app.register(paymentRoutes(ctx))
    await app.register(planRoutes(ctx, guard))
    await app.register(reportRoutes(ctx))
    await app.register(adminRoutes(ctx))
  })
  host.routes('/billing/stripe', webhookRoutes(ctx), { auth: 'none' })

  const service: CommerceService = {
    checkAutoTopup: (account) => checkAutoTopup(ctx, account),
    afterDebit,
    checkPlanLimits: async (organizationId) => guard.check(organizationId),
  }
  host.services.provide(CommerceServiceRef, service)
  // Read by the audit plugin when it is installed (ignored otherwise).
  for (const m of COMMERCE_AUDIT_MAPPINGS) host.services.extend(auditEventMappings, m)
  // The ledger side's routes (balance, budgets, alerts) admit billing contacts through this.
  host.services.provide(billingContactsRef, { isBillingContact: (organizationId, userId) => isBillingContact(ctx, organizationId, userId) })
  // The monthly usage rollup, folded in the usage-settlement worker's read of the events (its own cursor keeps it exactly once).
  const usageFold: UsageFold = { consumer: ROLLUP_CONSUMER, fold: (events, tx) => addToRollup(tx as Em, foldUsage(events)) }
  return { service, usageFold, rollupEveryMs: resolved.rollupEveryMs }
}

/** A background job that runs outside the caller's transaction, one run at a time per instance. */
function detached(host: PluginHost, what: string, job: () => Promise<unknown>) {
  let current: Promise<unknown> | undefined
  return {
    start(): void {
      if (current) return
      current = job()
        .catch((err) => host.log.error({ err }, `${what} failed`))
        .finally(() => {
          current = undefined
        })
    },
    running: () => current ?? Promise.resolve(),
  }
}
