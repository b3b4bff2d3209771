import { compareUsageCursors, type Role, type TxEntityManager, type UsageEventReader, type WorkerDefinition } from '@tollgate/core'
import type { Logger } from 'pino'
import { applicableBudgets } from '../budgets/budget-store.js'
import type { BudgetStore } from '../budgets/budget-store.js'
import { budgetPoolKey, sweepExpiredLeases } from '../budgets/lease-pools.js'
import type { OrgSettingsStore } from '../budgets/org-settings.js'
import { type PeriodBounds, periodBounds } from '../budgets/periods.js'
import { chargeFromEvent } from '../pricing/request-charge.js'
import type { AccountDirectory } from './account-directory.js'
import type { CounterTarget, CounterUpdate } from './charge-posting.js'
import type { LedgerAccountRef, LedgerEntry } from './ledger-types.js'
import { postRequestCharges, type RequestPosting } from './request-settlement.js'
import { SETTLEMENT_FIELDS, type SettlementEvent } from './settlement-fields.js'
import { sql } from './sql-exec.js'
import type { SqlLedger } from './sql-ledger.js'

/** The usage event consumer name settlement used on its own before it shared the rollup's read (its cursor in core_event_cursor). */
export const SETTLEMENT_CONSUMER = 'billing.settlement'

/** What one worker turn did. */
export interface SettlementTurn {
  events: number
  written: number
  sweptLeases: number
}

/**
 * Another derivation of the usage events that runs in the same read and transaction as
 * settlement (the payments side's monthly rollup): `consumer` names the cursor the combined
 * read advances, which keeps that derivation exactly once.
 */
export interface UsageFold {
  consumer: string
  fold: (events: SettlementEvent[], em: TxEntityManager) => Promise<void>
}

/**
 * The worker that makes settlement exactly-once from the usage event log: it reads every usage
 * event once (core's UsageEventReader, in the worker's own transaction) and settles it unless
 * the instance that served the request already did (the same billing_settled_request key). That
 * covers requests whose instance crashed between answering and writing. Once it has caught up,
 * it releases leases whose instance stopped renewing them.
 *
 * With a `fold` (the rollup), the same read feeds both, in one transaction, under the fold's
 * cursor: each event is read and parsed once instead of once per consumer. Settlement itself
 * needs no cursor of its own to be exactly once (its key is the request id), only to see every
 * event; so the settlement cursor of earlier versions (`billing.settlement`) is caught up to the
 * fold's first, then dropped.
 */
export function usageSettlementWorker(deps: {
  usage: UsageEventReader
  ledger: SqlLedger
  accounts: AccountDirectory
  settings: OrgSettingsStore
  budgets: BudgetStore
  intervalMs: number
  batchSize: number
  /** Leases expired longer than this are released. */
  leaseGraceMs: number
  /**
   * Events of requests that completed less than this long ago wait for a later turn: the
   * instance that served them settles them itself within a flush or two, far more cheaply than
   * this worker (0: read up to the newest event, as an explicit "settle now" does).
   */
  graceMs: number
  log: Logger
  fold?: UsageFold
  onWritten: (written: { entries: LedgerEntry[]; counters: CounterUpdate[] }) => void
  onTurn?: (turn: SettlementTurn) => void
}): WorkerDefinition {
  return {
    name: 'billing.usage-settlement',
    intervalMs: deps.intervalMs,
    async run({ em }) {
      let entries: LedgerEntry[] = []
      let counters: CounterUpdate[] = []
      const settle = async (events: SettlementEvent[], tx: TxEntityManager) => {
        const postings = await postingsFor(events, tx, deps)
        if (postings.length === 0) return
        const r = await postRequestCharges(deps.ledger, tx, postings)
        entries = entries.concat(r.entries)
        counters = counters.concat(r.counters)
      }
      const fold = deps.fold
      // Read only events whose serving instance has had its chance to settle them.
      const completedBefore = deps.graceMs > 0 ? new Date(Date.now() - deps.graceMs) : undefined
      let n: number
      let more: boolean
      if (fold && (await legacyCursorBehind(deps.usage, em, fold.consumer))) {
        // Events the old settlement cursor had not reached yet but the fold's cursor had.
        n = await deps.usage.consume(SETTLEMENT_CONSUMER, deps.batchSize, settle, { em, fields: SETTLEMENT_FIELDS, completedBefore })
        more = n > 0
      } else {
        n = await deps.usage.consume(
          fold ? fold.consumer : SETTLEMENT_CONSUMER,
          deps.batchSize,
          async (events, tx) => {
            if (fold) await fold.fold(events, tx)
            await settle(events, tx)
          },
          { em, fields: SETTLEMENT_FIELDS, completedBefore },
        )
        more = n === deps.batchSize
      }
      let swept = 0
      if (!more) swept = (await sweepExpiredLeases(em, deps.leaseGraceMs)).length
      if (entries.length > 0) {
        deps.log.info({ written: entries.length }, 'billing: settled usage events no instance had written')
      }
      // The worker's transaction commits after run() returns: notify on the next tick.
      if (entries.length > 0 || counters.length > 0) setImmediate(() => deps.onWritten({ entries, counters }))
      deps.onTurn?.({ events: n, written: entries.length, sweptLeases: swept })
      return more
    },
  }
}

/**
 * Whether the settlement cursor of earlier versions still trails the combined cursor (events
 * between them may be unsettled). Once it does not, it is dropped: from then on the combined
 * read covers every event settlement has not seen.
 */
async function legacyCursorBehind(usage: UsageEventReader, em: TxEntityManager, combined: string): Promise<boolean> {
  const legacy = await usage.cursor(SETTLEMENT_CONSUMER, { em })
  if (!legacy) return false
  const current = await usage.cursor(combined, { em })
  if (current && compareUsageCursors(legacy, current) < 0) return true
  await usage.dropCursor(SETTLEMENT_CONSUMER, { em })
  return false
}

async function postingsFor(
  events: SettlementEvent[],
  em: TxEntityManager,
  deps: { accounts: AccountDirectory; settings: OrgSettingsStore; budgets: BudgetStore },
): Promise<RequestPosting[]> {
  const roles = new Map<string, Role | undefined>()
  const out: RequestPosting[] = []
  // Almost every event was settled by the instance that served it: find those with one indexed
  // query and skip them before any per-event work.
  const costly = events.filter((e) => e.cost > 0n)
  if (costly.length === 0) return out
  // The anti-join runs in the database and answers only the (rare) unsettled ids, so the worker
  // does not parse one row per event back out of the driver.
  const open = await sql<{ id: string }>(
    em,
    `select r.id from unnest($1::text[]) as r(id)
      where not exists (select 1 from billing_settled_request s where s.request_id = r.id)`,
    [costly.map((e) => e.requestId)],
  )
  if (open.length === 0) return out
  const unsettled = new Set(open.map((r) => r.id))
  const bounds = new Map<string, PeriodBounds>()
  // One account lookup per member and batch (inside the worker's transaction it is not cached).
  const accounts = new Map<string, { ref: LedgerAccountRef; id: string }>()
  for (const e of costly) {
    if (!unsettled.has(e.requestId)) continue
    const charge = chargeFromEvent(e)
    if (!charge) continue
    const member = `${e.organizationId}|${e.userId ?? ''}`
    let account = accounts.get(member)
    if (!account) {
      account = await deps.accounts.forMember(e.organizationId, e.userId, em)
      accounts.set(member, account)
    }
    const budgets = await deps.budgets.list(e.organizationId, em)
    let counters: CounterTarget[] = []
    if (budgets.length > 0) {
      const settings = await deps.settings.get(e.organizationId, em)
      let role: Role | undefined
      if (e.userId && budgets.some((b) => b.scope === 'default_member')) {
        const key = `${e.organizationId}|${e.userId}`
        if (!roles.has(key)) {
          const rows = await em.execute<{ role: Role }[]>('select role from core_membership where organization_id = ? and user_id = ?', [e.organizationId, e.userId], 'all')
          roles.set(key, rows[0]?.role)
        }
        role = roles.get(key)
      }
      counters = applicableBudgets(budgets, { userId: e.userId, role, projectId: e.projectId, apiKeyId: e.apiKeyId }).map(({ budget, subject }) => {
        // The period the request happened in, not the one running now (cached while events fall in it).
        const cacheKey = `${settings.timezone}|${budget.period}`
        let b = bounds.get(cacheKey)
        const at = e.occurredAt.getTime()
        if (!b || at < b.start.getTime() || at >= b.end.getTime()) {
          b = periodBounds(budget.period, e.occurredAt, settings.timezone)
          bounds.set(cacheKey, b)
        }
        return { key: budgetPoolKey(budget.id, subject, b.start), budget, subjectId: subject, periodStart: b.start, periodEnd: b.end }
      })
    }
    out.push({ charge, account, counters })
  }
  return out
}
