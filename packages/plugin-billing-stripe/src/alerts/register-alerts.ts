import { type Database, formatUsd, type PluginHost } from '@tollgate/core'
import { type BudgetStore, describeBudget } from '../budgets/budget-store.js'
import type { OrgSettingsStore } from '../budgets/org-settings.js'
import type { LedgerSideConfig } from '../config.js'
import type { CounterUpdate } from '../ledger/charge-posting.js'
import type { LedgerEntry } from '../ledger/ledger-types.js'
import type { SqlLedger } from '../ledger/sql-ledger.js'
import { type BillingAlert, billingEmailSenderRef } from './alert-types.js'
import { deliverWebhook } from './webhook-delivery.js'

/** What the plugin calls after writes. */
export interface AlertMonitor {
  /** Looks at what was just written for balances under their threshold and budget thresholds crossed. */
  check(entries: LedgerEntry[], counters: CounterUpdate[]): void
  /** Resolves when every alert started so far has been recorded and delivered (or failed). */
  idle(): Promise<void>
  close(): void
}

/**
 * Alerts: a low balance (under the organization's threshold; re-armed when the balance is back
 * above it) and budget thresholds (80/95/100 % and custom) crossed by spend. Each crossing
 * fires once across every instance: the alert's key is inserted into billing_alert_fired, and
 * only the instance whose insert succeeds delivers it — as the domain event `billing.alert`,
 * by email through the pluggable sender, and to the organization's Slack and Discord webhooks.
 */
export function registerAlerts(host: PluginHost, config: LedgerSideConfig, deps: { ledger: SqlLedger; settings: OrgSettingsStore; budgets: BudgetStore }): AlertMonitor {
  const db = host.db
  const pending = new Set<Promise<void>>()
  /**
   * Whether this instance last saw each account below its threshold, and when: the state is
   * trusted for 30 s only, since another instance may have re-armed the alert meanwhile.
   */
  const below = new Map<string, { below: boolean; at: number }>()
  let closed = false
  const delivered = host.metrics.counter({ name: 'tollgate_billing_alerts_total', help: 'Billing alerts fired, by kind and channel, and whether delivery succeeded.', labelNames: ['kind', 'channel', 'result'] as const })

  const track = (p: Promise<void>) => {
    const done = p.catch((err) => host.log.error({ err }, 'billing alert failed')).finally(() => pending.delete(done))
    pending.add(done)
  }

  async function fire(alert: BillingAlert): Promise<void> {
    const rows = await db.orm.em
      .fork()
      .execute<{ alert_key: string }[]>('insert into billing_alert_fired (alert_key, organization_id, kind) values (?, ?, ?) on conflict do nothing returning alert_key', [alert.alertKey, alert.organizationId, alert.kind], 'all')
    if (rows.length === 0) return // another instance (or an earlier write) fired this crossing
    await host.events.emit('billing.alert', alert, { organizationId: alert.organizationId, actor: { type: 'system', id: 'billing' } })
    delivered.inc({ kind: alert.kind, channel: 'event', result: 'ok' })
    const settings = await deps.settings.get(alert.organizationId)
    const sends: Promise<void>[] = []
    const channel = (name: string, p: Promise<void>) =>
      sends.push(
        p.then(
          () => void delivered.inc({ kind: alert.kind, channel: name, result: 'ok' }),
          (err) => {
            delivered.inc({ kind: alert.kind, channel: name, result: 'failed' })
            host.log.warn({ err, alert: alert.alertKey, channel: name }, 'billing alert delivery failed')
          },
        ),
      )
    const webhook = { timeoutMs: config.alerts.webhookTimeoutMs, retries: config.alerts.webhookRetries }
    if (settings.slackWebhookUrl) channel('slack', deliverWebhook('slack', settings.slackWebhookUrl, alert, webhook))
    if (settings.discordWebhookUrl) channel('discord', deliverWebhook('discord', settings.discordWebhookUrl, alert, webhook))
    channel('email', sendEmail(alert, settings.alertEmails))
    await Promise.all(sends)
  }

  async function sendEmail(alert: BillingAlert, configured: string[]): Promise<void> {
    const to = configured.length > 0 ? configured : await adminEmails(db, alert.organizationId, alert.kind === 'low_balance' ? alert.userId : undefined)
    const subject = alert.kind === 'low_balance' ? 'Low credit balance' : `Budget alert: ${alert.percent}% reached`
    const sender = host.services.find(billingEmailSenderRef)
    if (!sender) {
      host.log.info({ to, subject, alert: alert.alertKey }, 'billing alert email (no billing.emailSender provided)')
      return
    }
    if (to.length === 0) return
    await sender.send({ to, subject, text: alert.message, alert })
  }

  async function lowBalance(e: LedgerEntry): Promise<void> {
    const settings = await deps.settings.get(e.organizationId)
    const threshold = settings.lowBalanceThreshold
    const isBelow = threshold > 0n && e.balanceAfter < threshold
    const seen = below.get(e.accountId)
    if (seen && seen.below === isBelow && Date.now() - seen.at < 30_000) return
    below.set(e.accountId, { below: isBelow, at: Date.now() })
    const key = `low_balance:${e.accountId}`
    if (!isBelow) {
      // Back above the threshold: re-arm, so the next crossing alerts again.
      await db.orm.em.fork().execute('delete from billing_alert_fired where alert_key = ?', [key], 'run')
      return
    }
    const whose = e.userId ? 'Your personal credit balance' : "The organization's credit balance"
    await fire({
      kind: 'low_balance',
      alertKey: key,
      organizationId: e.organizationId,
      ...(e.userId ? { userId: e.userId } : {}),
      accountId: e.accountId,
      balance: e.balanceAfter,
      threshold,
      message: `${whose} is $${formatUsd(e.balanceAfter)}, below the alert threshold of $${formatUsd(threshold)}. Buy credits to avoid refused requests.`,
      at: new Date(),
    })
  }

  async function budgetThresholds(u: CounterUpdate): Promise<void> {
    const b = u.target.budget
    const thresholds = b.alertThresholds ?? (await deps.settings.get(b.organizationId)).budgetAlertThresholds
    const before = u.spentAfter - u.added
    for (const percent of thresholds) {
      const line = b.limit * BigInt(percent)
      if (u.spentAfter * 100n < line || before * 100n >= line) continue
      await fire({
        kind: 'budget_threshold',
        alertKey: `budget:${u.target.key}:${percent}`,
        organizationId: b.organizationId,
        budgetId: b.id,
        budgetScope: b.scope,
        ...(b.name ? { budgetName: b.name } : {}),
        subjectId: u.target.subjectId,
        percent,
        spent: u.spentAfter,
        limit: b.limit,
        periodStart: u.target.periodStart,
        periodEnd: u.target.periodEnd,
        message: `${capitalize(describeBudget(b))}${u.target.subjectId !== '-' ? ` (${u.target.subjectId})` : ''} has reached ${percent}%: $${formatUsd(u.spentAfter)} of $${formatUsd(b.limit)} spent this period (until ${u.target.periodEnd.toISOString()}).`,
        at: new Date(),
      })
    }
  }

  const monitor: AlertMonitor = {
    check(entries, counters) {
      if (closed) return
      // The last entry per account carries its newest balance.
      const last = new Map<string, LedgerEntry>()
      for (const e of entries) last.set(e.accountId, e)
      for (const e of last.values()) track(lowBalance(e))
      for (const u of counters) track(budgetThresholds(u))
    },
    async idle() {
      while (pending.size > 0) await Promise.all([...pending])
    },
    close() {
      closed = true
    },
  }
  // Every other ledger write (purchases, gifts, adjustments, refunds) can cross the threshold too.
  deps.ledger.onPosted((entries) => monitor.check(entries, []))
  return monitor
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/** Emails of the organization's owners and admins (and of the account's member, for a personal account). */
async function adminEmails(db: Database, organizationId: string, userId?: string): Promise<string[]> {
  const rows = await db.orm.em
    .fork()
    .execute<{ email: string }[]>(
      `select distinct u.email from core_membership m join core_user u on u.id = m.user_id
        where m.organization_id = ? and (m.role in ('owner','admin') or m.user_id = ?) and u.disabled_at is null order by u.email`,
      [organizationId, userId ?? null],
      'all',
    )
  return rows.map((r) => r.email)
}
