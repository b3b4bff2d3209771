import { randomUUID } from 'node:crypto'
import { CoreServices, definePlugin, type PluginMigration, type TxEntityManager } from '@tollgate/core'
import { registerAlerts } from './alerts/register-alerts.js'
import { BudgetStore } from './budgets/budget-store.js'
import { registerBudgetRoutes } from './budgets/budget-routes.js'
import { LeaseManager } from './budgets/lease-pools.js'
import { billingSettingsRef, OrgSettingsStore } from './budgets/org-settings.js'
import { PeriodClock } from './budgets/periods.js'
import { RequestBudgets } from './budgets/request-budgets.js'
import { commerceConfigProperties, commerceMigrations, registerCommerce } from './commerce/register-commerce.js'
import { type LedgerSideConfig, ledgerConfigProperties } from './config.js'
import './errors.js'
import { AccountDirectory } from './ledger/account-directory.js'
import { registerLedgerRoutes } from './ledger/ledger-routes.js'
import { billingAccountsRef, billingBudgetsRef, billingControlRef, billingLedgerRef, billingMetersRef } from './ledger/ledger-service.js'
import { SettlementWriter } from './ledger/settlement-writer.js'
import { SqlLedger } from './ledger/sql-ledger.js'
import { usageSettlementWorker } from './ledger/usage-settlement-worker.js'
import { registerMeterRoutes } from './metering/meter-routes.js'
import { MeterService, meterSettlementWorker } from './metering/meter-service.js'
import { LEDGER_SIDE_MIGRATIONS } from './migrations.js'
import { runWorkerNow } from './run-worker-now.js'

/** Options of the billing plugin: the ledger/budget keys (LedgerSideConfig) plus the payments keys. */
export type BillingPluginConfig = LedgerSideConfig & Record<string, unknown>

/**
 * The billing plugin (`billing`): prepaid credits on an append-only ledger, exact per-request
 * pricing, generic meters, budgets reserved before the upstream call and settled after it,
 * alerts, and (through the payments side) plans, Stripe payments and invoices.
 */
export const billingPlugin = definePlugin<BillingPluginConfig>({
  id: 'billing',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { ...ledgerConfigProperties, ...commerceConfigProperties },
  },
  migrations: [...LEDGER_SIDE_MIGRATIONS, ...(commerceMigrations as PluginMigration[])],
  async register(host, config) {
    const db = host.services.get(CoreServices.database)
    const catalog = host.services.get(CoreServices.catalog)
    // The per-organization caches read on the request path re-read what is in use in the background; a failed re-read is logged and retried.
    const onRefreshError = (err: unknown) => host.log.warn({ err }, 'billing: could not re-read cached settings, budgets or accounts; serving the cached values for now')
    const ledger = new SqlLedger(db, new AccountDirectory(db, { onRefreshError }))
    const settings = new OrgSettingsStore(db, config, { onRefreshError })
    const budgets = new BudgetStore(db, { onRefreshError })
    const clock = new PeriodClock()
    const leases = new LeaseManager(db, `${process.pid}-${randomUUID()}`, config.leases, host.log)
    const writer = new SettlementWriter(db, ledger, leases, host.log, config.settlement)
    const requestBudgets = new RequestBudgets({ config, catalog, settings, budgets, accounts: ledger.accounts, leases, writer, clock })
    const meters = new MeterService(db, ledger, settings, budgets, config)

    host.services.provide(billingLedgerRef, ledger)
    host.services.provide(billingAccountsRef, ledger.accounts)
    host.services.provide(billingSettingsRef, settings)
    host.services.provide(billingBudgetsRef, budgets)
    host.services.provide(billingMetersRef, meters)

    // A credit on this instance (a purchase, a gift) may lift a refusal at once.
    ledger.onPosted((entries) => {
      for (const e of entries) if (e.amount > 0n) leases.invalidate(`a:${e.accountId}`)
    })

    const refused = host.metrics.counter({ name: 'tollgate_billing_requests_refused_total', help: 'Requests refused before the upstream call, by reason (balance, budget, unavailable).', labelNames: ['reason'] as const })
    requestBudgets.onRefused = (reason) => refused.inc({ reason })
    const leaseCounter = host.metrics.counter({ name: 'tollgate_billing_leases_total', help: 'Lease requests to the database, by pool kind and result.', labelNames: ['pool', 'result'] as const })
    leases.onLease = (pool, granted) => leaseCounter.inc({ pool, result: granted ? 'granted' : 'refused' })
    const flushSeconds = host.metrics.histogram({ name: 'tollgate_billing_settlement_flush_seconds', help: 'Duration of one settlement batch write.', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] })
    const settled = host.metrics.counter({ name: 'tollgate_billing_settled_requests_total', help: 'Request charges written to the ledger by the serving instance.' })
    writer.observe(({ count, seconds }) => {
      flushSeconds.observe(seconds)
      settled.inc(count)
    })
    host.metrics.gauge({
      name: 'tollgate_billing_settlement_queue_items',
      help: 'Settled request charges waiting to be written.',
      collect() {
        this.set(writer.pending)
      },
    })

    // Ledger writes reach the alerts through ledger.onPosted; budget counters through these observers.
    const alerts = registerAlerts(host, config, { ledger, settings, budgets })
    writer.observe(({ counters }) => alerts.check([], counters))

    host.services.provide(billingControlRef, {
      instanceId: leases.instanceId,
      flush: () => writer.flush(),
      settleUsageEvents: () => runWorkerNow(db, usageWorkerNow, host.log),
      settleMeters: () => runWorkerNow(db, meterWorkerNow, host.log),
      alertsIdle: () => alerts.idle(),
      leases: () => leases.pools().map((p) => ({ pool: p.spec.key, held: p.held, headroom: p.headroom, reservations: p.reservations })),
    })

    host.hooks.add('beforeUpstream', (ctx) => requestBudgets.reserve(ctx))
    host.hooks.add('onComplete', (ctx) => requestBudgets.settle(ctx))
    host.hooks.add('onReady', async () => leases.start())
    host.hooks.add('onClose', async () => {
      await writer.close()
      await leases.close()
      alerts.close()
      settings.close()
      budgets.close()
      ledger.accounts.close()
    })

    const meterWorkerWith = (gaugeQuietMs: number) =>
      meterSettlementWorker(
        meters,
        config.settlement.workerIntervalMs,
        (r) => {
          ledger.notify(r.entries)
          alerts.check([], r.counters)
        },
        gaugeQuietMs,
      )
    const meterWorker = meterWorkerWith(config.meters.gaugeQuietMs)
    // An explicit "settle now" bills ended gauge days however recent their last sample (same name: same lock).
    const meterWorkerNow = meterWorkerWith(0)
    host.workers.add(meterWorker)

    // Stored tokens of organizations whose retention keeps bodies (the audit plugin reports them in
    // the transaction that stores the bodies), metered at the data-retention price.
    host.events.onAny(
      async (_name, payload, meta) => {
        const p = payload as { organizationId: string; tokens: number; batchId: string }
        if (!(p.tokens > 0)) return
        await meters.record({ organizationId: p.organizationId, meter: 'stored_tokens', quantity: p.tokens, idempotencyKey: `audit-retention:${p.batchId}` }, meta.em as TxEntityManager | undefined)
      },
      { transactional: true, filter: (name) => name === 'audit.retainedTokens' },
    )

    registerLedgerRoutes(host, { ledger })
    registerBudgetRoutes(host, { budgets, settings, leases })
    registerMeterRoutes(host, { meters })

    const commerce = await registerCommerce(host, config, { ledger })
    // Settlement's read of the usage events also feeds the payments side's monthly rollup.
    const usageWorkerWith = (graceMs: number) => usageSettlementWorker({
      usage: host.usage,
      ledger,
      accounts: ledger.accounts,
      settings,
      budgets,
      intervalMs: Math.min(config.settlement.workerIntervalMs, commerce.rollupEveryMs),
      // One read feeds settlement and the rollup: large batches keep the per-read overhead small.
      batchSize: 2000,
      fold: commerce.usageFold,
      leaseGraceMs: Math.min(1000, Math.floor(config.leases.ttlMs / 4)),
      graceMs,
      log: host.log,
      onWritten: ({ entries, counters }) => {
        ledger.notify(entries)
        alerts.check([], counters)
      },
    })
    const usageWorker = usageWorkerWith(config.settlement.workerGraceMs)
    // An explicit "settle now" reads up to the newest event (same worker name: same cluster-wide lock and cursor).
    const usageWorkerNow = usageWorkerWith(0)
    host.workers.add(usageWorker)
  },
})
