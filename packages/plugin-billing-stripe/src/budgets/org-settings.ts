import { OrgCache } from './org-cache.js'
import { createServiceRef, type Database, parseUsd, TollgateError, type TxEntityManager } from '@tollgate/core'
import type { LedgerSideConfig } from '../config.js'
import { big } from '../ledger/ledger-rows.js'
import { assertTimezone } from './periods.js'

/** An organization's billing settings, with the plugin's defaults filled in. */
export interface OrgBillingSettings {
  organizationId: string
  /** IANA timezone; budget periods and daily meters follow its midnight. */
  timezone: string
  /** Requests are refused when the prepaid balance cannot cover their maximum cost. */
  requirePrepaidBalance: boolean
  /** Low-balance alert threshold, picodollars (0 = off). */
  lowBalanceThreshold: bigint
  /** Budget alert thresholds, percent, used by budgets that set none. */
  budgetAlertThresholds: number[]
  /** Who gets alert emails (empty: the organization's owners and admins). */
  alertEmails: string[]
  slackWebhookUrl?: string
  discordWebhookUrl?: string
}

/** A change to an organization's settings; null clears an override back to the default. */
export interface OrgBillingSettingsPatch {
  timezone?: string | null
  requirePrepaidBalance?: boolean | null
  lowBalanceThreshold?: bigint | null
  budgetAlertThresholds?: number[] | null
  alertEmails?: string[]
  slackWebhookUrl?: string | null
  discordWebhookUrl?: string | null
}

interface Row {
  organization_id: string
  timezone: string | null
  require_prepaid_balance: boolean | null
  low_balance_threshold: string | null
  budget_alert_thresholds: unknown
  alert_emails: unknown
  slack_webhook_url: string | null
  discord_webhook_url: string | null
}

function json<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null
  return (typeof v === 'string' ? JSON.parse(v) : v) as T
}

/**
 * Organization billing settings, cached per organization (changes made on this instance are
 * seen at once; on others within about `ttlMs`). The organizations in use are re-read together
 * in the background, so the request path never waits after the first load.
 */
export class OrgSettingsStore {
  readonly #db: Database
  readonly #config: LedgerSideConfig
  readonly #cache: OrgCache<OrgBillingSettings>
  readonly #listeners: ((s: OrgBillingSettings) => void)[] = []

  constructor(db: Database, config: LedgerSideConfig, options: { ttlMs?: number; onRefreshError?: (err: unknown) => void } = {}) {
    this.#db = db
    this.#config = config
    this.#cache = new OrgCache(
      async (organizationIds, em) => {
        const rows = await (em ?? this.#db.orm.em.fork()).execute<Row[]>(`select * from billing_org_settings where organization_id in (${organizationIds.map(() => '?').join(',')})`, [...organizationIds], 'all')
        const byOrg = new Map(rows.map((r) => [r.organization_id, r]))
        return organizationIds.map((id) => this.#fromRow(id, byOrg.get(id)))
      },
      options.ttlMs ?? 5_000,
      options.onRefreshError,
    )
  }

  /** Stops the cache's background re-reads. */
  close(): void {
    this.#cache.close()
  }

  /** Called when an organization's settings change on this instance. */
  onChange(listener: (s: OrgBillingSettings) => void): void {
    this.#listeners.push(listener)
  }

  /** The settings from the cache (refreshing in the background when stale), or undefined before the first load. */
  cached(organizationId: string): OrgBillingSettings | undefined {
    return this.#cache.cached(organizationId)
  }

  /** The settings, loading them when not cached. */
  async get(organizationId: string, em?: TxEntityManager): Promise<OrgBillingSettings> {
    return this.#cache.get(organizationId, em)
  }

  /** Applies a change and returns the new settings. */
  async update(organizationId: string, patch: OrgBillingSettingsPatch): Promise<OrgBillingSettings> {
    if (patch.timezone !== undefined && patch.timezone !== null) assertTimezone(patch.timezone)
    if (patch.lowBalanceThreshold !== undefined && patch.lowBalanceThreshold !== null && patch.lowBalanceThreshold < 0n) {
      throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_AMOUNT', 'lowBalanceUsd must not be negative', { field: 'lowBalanceUsd' })
    }
    const sets: string[] = []
    const params: unknown[] = []
    const set = (column: string, value: unknown, cast = '') => {
      sets.push(`${column} = ?${cast}`)
      params.push(value)
    }
    if (patch.timezone !== undefined) set('timezone', patch.timezone)
    if (patch.requirePrepaidBalance !== undefined) set('require_prepaid_balance', patch.requirePrepaidBalance)
    if (patch.lowBalanceThreshold !== undefined) set('low_balance_threshold', patch.lowBalanceThreshold === null ? null : patch.lowBalanceThreshold.toString(), '::numeric')
    if (patch.budgetAlertThresholds !== undefined) set('budget_alert_thresholds', patch.budgetAlertThresholds === null ? null : JSON.stringify(patch.budgetAlertThresholds), '::jsonb')
    if (patch.alertEmails !== undefined) set('alert_emails', JSON.stringify(patch.alertEmails), '::jsonb')
    if (patch.slackWebhookUrl !== undefined) set('slack_webhook_url', patch.slackWebhookUrl)
    if (patch.discordWebhookUrl !== undefined) set('discord_webhook_url', patch.discordWebhookUrl)
    const em = this.#db.orm.em.fork()
    await em.execute('insert into billing_org_settings (organization_id) values (?) on conflict do nothing', [organizationId], 'run')
    if (sets.length > 0) await em.execute(`update billing_org_settings set ${sets.join(', ')}, updated_at = now() where organization_id = ?`, [...params, organizationId], 'run')
    const fresh = await this.#cache.load(organizationId)
    for (const l of this.#listeners) l(fresh)
    return fresh
  }

  #fromRow(organizationId: string, r: Row | undefined): OrgBillingSettings {
    const c = this.#config
    return {
      organizationId,
      timezone: r?.timezone ?? c.defaultTimezone,
      requirePrepaidBalance: r?.require_prepaid_balance ?? c.requirePrepaidBalance,
      lowBalanceThreshold: r?.low_balance_threshold !== null && r?.low_balance_threshold !== undefined ? big(r.low_balance_threshold) : parseUsd(c.alerts.lowBalanceUsd),
      budgetAlertThresholds: json<number[]>(r?.budget_alert_thresholds) ?? c.alerts.budgetThresholds,
      alertEmails: json<string[]>(r?.alert_emails) ?? [],
      ...(r?.slack_webhook_url ? { slackWebhookUrl: r.slack_webhook_url } : {}),
      ...(r?.discord_webhook_url ? { discordWebhookUrl: r.discord_webhook_url } : {}),
    }
  }
}

/** Organization billing settings (timezone, prepaid requirement, alert routing), "billing.settings". */
export const billingSettingsRef = createServiceRef<OrgSettingsStore>('billing.settings')
