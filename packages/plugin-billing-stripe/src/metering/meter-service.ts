import { randomUUID } from 'node:crypto'
import { type Database, parseDecimal, parseUsd, TollgateError, type TxEntityManager, type WorkerDefinition } from '@tollgate/core'
import { applicableBudgets, type BudgetStore } from '../budgets/budget-store.js'
import { budgetPoolKey } from '../budgets/lease-pools.js'
import type { OrgSettingsStore } from '../budgets/org-settings.js'
import { localDate, periodBounds } from '../budgets/periods.js'
import { DEFAULT_METER_PRICES, type LedgerSideConfig } from '../config.js'
import { isUuid } from '../ledger/account-directory.js'
import { type ChargePosting, type CounterUpdate, postCharges } from '../ledger/charge-posting.js'
import { big } from '../ledger/ledger-rows.js'
import type { LedgerEntry } from '../ledger/ledger-types.js'
import type { SqlLedger } from '../ledger/sql-ledger.js'

/** Quantities have up to six decimal places (1.5 GB, 0.25 minutes). */
const QUANTITY_DECIMALS = 6
const MICRO = 1_000_000n

/** A meter: counters are billed per unit recorded; gauges on their daily peak. */
export interface MeterDefinition {
  name: string
  kind: 'counter' | 'gauge'
  /** Picodollars per unit (per unit-day for gauges). */
  unitPrice: bigint
}

/** Usage to record. */
export interface MeterUsageInput {
  organizationId: string
  meter: string
  /** Units (counters) or the level sampled (gauges), up to six decimals. */
  quantity: number | string
  /** Unique per organization: recording the same key twice records once. */
  idempotencyKey: string
  occurredAt?: Date
  projectId?: string
  userId?: string
}

/** A recorded meter event. */
export interface MeterEvent {
  id: string
  organizationId: string
  meter: string
  kind: 'counter' | 'gauge'
  /** Decimal string. */
  quantity: string
  unitPrice: bigint
  /** Cost of a counter event (gauges are priced per day when the day ends: 0 here). */
  cost: bigint
  idempotencyKey: string
  projectId?: string
  userId?: string
  occurredAt: Date
  localDay: string
  settled: boolean
}

interface Row {
  id: string
  organization_id: string
  meter: string
  kind: 'counter' | 'gauge'
  quantity_micro: string | number
  unit_price: string
  cost: string
  idempotency_key: string
  project_id: string | null
  user_id: string | null
  occurred_at: Date | string
  local_day: string | Date
  settled_at: Date | string | null
}

function dayText(d: string | Date): string {
  return typeof d === 'string' ? d.slice(0, 10) : d.toISOString().slice(0, 10)
}

function formatQuantity(micro: bigint): string {
  const whole = micro / MICRO
  const frac = (micro % MICRO).toString().padStart(QUANTITY_DECIMALS, '0').replace(/0+$/, '')
  return frac ? `${whole}.${frac}` : `${whole}`
}

function fromRow(r: Row): MeterEvent {
  return {
    id: r.id,
    organizationId: r.organization_id,
    meter: r.meter,
    kind: r.kind,
    quantity: formatQuantity(big(r.quantity_micro)),
    unitPrice: big(r.unit_price),
    cost: big(r.cost),
    idempotencyKey: r.idempotency_key,
    ...(r.project_id ? { projectId: r.project_id } : {}),
    ...(r.user_id ? { userId: r.user_id } : {}),
    occurredAt: new Date(r.occurred_at),
    localDay: dayText(r.local_day),
    settled: r.settled_at !== null,
  }
}

/** Cost of `micro` millionths of a unit at `unitPrice` picodollars per unit, rounded half up to a picodollar. */
export function meterCost(micro: bigint, unitPrice: bigint): bigint {
  return (micro * unitPrice + MICRO / 2n) / MICRO
}

/**
 * Generic meters for non-LLM usage (API requests, SQL queries, storage at daily peak, compute
 * minutes, bandwidth, stored tokens for data retention). Recording is idempotent per
 * organization and key; settlement posts counter events one ledger debit each and gauges one
 * debit per organization, meter and local day (peak × unit-day price) once the day is over in
 * the organization's timezone.
 */
export class MeterService {
  readonly #db: Database
  readonly #ledger: SqlLedger
  readonly #settings: OrgSettingsStore
  readonly #budgets: BudgetStore
  readonly meters: ReadonlyMap<string, MeterDefinition>

  constructor(db: Database, ledger: SqlLedger, settings: OrgSettingsStore, budgets: BudgetStore, config: LedgerSideConfig) {
    this.#db = db
    this.#ledger = ledger
    this.#settings = settings
    this.#budgets = budgets
    const prices = { ...DEFAULT_METER_PRICES, ...config.meters.prices }
    const gauges = new Set(config.meters.gauges)
    this.meters = new Map(Object.entries(prices).map(([name, usd]) => [name, { name, kind: gauges.has(name) ? 'gauge' : 'counter', unitPrice: parseUsd(usd, `meters.prices.${name}`) }]))
  }

  /**
   * Records usage; the same idempotency key records once (a different payload under it is a
   * conflict). With `em`, the event is written in that transaction (a subscriber recording usage
   * of a change commits or rolls back with it).
   */
  async record(input: MeterUsageInput, tx?: TxEntityManager): Promise<{ event: MeterEvent; duplicate: boolean }> {
    const meter = this.meters.get(input.meter)
    if (!meter) throw new TollgateError('TOLLGATE_ERR_BILLING_UNKNOWN_METER', `meter "${input.meter}" has no unit price; known meters: ${[...this.meters.keys()].join(', ')}`, { field: 'meter' })
    let micro: bigint
    try {
      micro = parseDecimal(typeof input.quantity === 'number' ? numberText(input.quantity) : input.quantity, QUANTITY_DECIMALS, 'quantity')
    } catch (err) {
      throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', (err as Error).message, { field: 'quantity' })
    }
    if (!input.idempotencyKey || input.idempotencyKey.length > 255) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'idempotencyKey must be 1–255 characters', { field: 'idempotencyKey' })
    for (const f of ['projectId', 'userId'] as const) {
      if (input[f] !== undefined && !isUuid(input[f])) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${f} must be a UUID`, { field: f })
    }
    const occurredAt = input.occurredAt ?? new Date()
    if (Number.isNaN(occurredAt.getTime())) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'occurredAt is not a valid date-time', { field: 'occurredAt' })
    const settings = await this.#settings.get(input.organizationId, tx)
    const cost = meter.kind === 'counter' ? meterCost(micro, meter.unitPrice) : 0n
    const em = tx ?? this.#db.orm.em.fork()
    const rows = await em.execute<Row[]>(
      `insert into billing_meter_event (id, organization_id, meter, kind, quantity_micro, unit_price, cost, idempotency_key, project_id, user_id, occurred_at, local_day)
       values (?, ?, ?, ?, ?, ?::numeric, ?::numeric, ?, ?, ?, ?, ?::date)
       on conflict (organization_id, idempotency_key) do nothing returning *`,
      [
        randomUUID(),
        input.organizationId,
        meter.name,
        meter.kind,
        micro.toString(),
        meter.unitPrice.toString(),
        cost.toString(),
        input.idempotencyKey,
        input.projectId ?? null,
        input.userId ?? null,
        occurredAt,
        localDate(occurredAt, settings.timezone),
      ],
      'all',
    )
    if (rows.length === 1) return { event: fromRow(rows[0]), duplicate: false }
    const [existing] = await em.execute<Row[]>('select * from billing_meter_event where organization_id = ? and idempotency_key = ?', [input.organizationId, input.idempotencyKey], 'all')
    const event = fromRow(existing)
    if (event.meter !== meter.name || big(existing.quantity_micro) !== micro) {
      throw new TollgateError('TOLLGATE_ERR_BILLING_IDEMPOTENCY_CONFLICT', `idempotencyKey "${input.idempotencyKey}" was already used for ${event.quantity} ${event.meter}`, { field: 'idempotencyKey' })
    }
    return { event, duplicate: true }
  }

  /** Per-meter totals of an organization between two instants (quantity: sum for counters, peak for gauges). */
  async summary(organizationId: string, from: Date, to: Date): Promise<{ meter: string; kind: 'counter' | 'gauge'; quantity: string; cost: bigint; events: number }[]> {
    const rows = await this.#db.orm.em
      .fork()
      .execute<{ meter: string; kind: 'counter' | 'gauge'; total: string; peak: string; cost: string; events: string | number }[]>(
        `select meter, kind, sum(quantity_micro)::text as total, max(quantity_micro)::text as peak, sum(cost)::text as cost, count(*) as events
           from billing_meter_event where organization_id = ? and occurred_at >= ? and occurred_at < ? group by meter, kind order by meter`,
        [organizationId, from, to],
        'all',
      )
    return rows.map((r) => ({ meter: r.meter, kind: r.kind, quantity: formatQuantity(big(r.kind === 'gauge' ? r.peak : r.total)), cost: big(r.cost), events: Number(r.events) }))
  }

  /**
   * Posts what is due to the ledger, in the caller's transaction: unsettled counter events, and
   * gauge peaks of local days that have ended and have had no new sample for `gaugeQuietMs` (a
   * day's samples often arrive in a burst: billing the day at its first sample would bill the
   * peak of only part of them). Returns the entries and counter updates written.
   */
  async settle(em: TxEntityManager, limit = 500, options: { gaugeQuietMs?: number } = {}): Promise<{ entries: LedgerEntry[]; counters: CounterUpdate[]; more: boolean }> {
    const counters = await em.execute<Row[]>(
      `select * from billing_meter_event where settled_at is null and kind = 'counter' order by recorded_at limit ? for update skip locked`,
      [limit],
      'all',
    )
    const postings: ChargePosting[] = []
    const settledIds: string[] = []
    for (const r of counters) {
      const e = fromRow(r)
      settledIds.push(e.id)
      if (e.cost <= 0n) continue
      postings.push(await this.#posting(em, e.organizationId, e.projectId, e.occurredAt, e.cost, `meter:${e.id}`, e.meter, { meter: e.meter, quantity: e.quantity, projectId: e.projectId ?? null, unitPrice: e.unitPrice.toString() }, e.id))
    }
    // Every sample of a day that has unsettled ones: the settled samples' peak is what the day
    // was already billed at (a sample that arrives after its day was billed is not lost).
    const days = await em.execute<{ organization_id: string; meter: string; local_day: string | Date; peak: string; billed_peak: string | null; unit_price: string; last: Date | string }[]>(
      `select organization_id, meter, local_day, max(quantity_micro)::text as peak,
              (max(quantity_micro) filter (where settled_at is not null))::text as billed_peak,
              max(unit_price)::text as unit_price, max(occurred_at) as last
         from billing_meter_event
        where kind = 'gauge'
          and (organization_id, meter, local_day) in (select organization_id, meter, local_day from billing_meter_event where settled_at is null and kind = 'gauge')
        group by organization_id, meter, local_day
       having max(recorded_at) filter (where settled_at is null) < now() - ? * interval '1 millisecond' limit ?`,
      [options.gaugeQuietMs ?? 0, limit],
      'all',
    )
    const gaugeDays: { org: string; meter: string; day: string }[] = []
    for (const d of days) {
      const settings = await this.#settings.get(d.organization_id, em)
      const day = dayText(d.local_day)
      if (day >= localDate(new Date(), settings.timezone)) continue
      gaugeDays.push({ org: d.organization_id, meter: d.meter, day })
      const charge = gaugeDayCharge(d.meter, day, big(d.peak), d.billed_peak === null ? undefined : big(d.billed_peak), big(d.unit_price))
      if (!charge) continue
      postings.push(await this.#posting(em, d.organization_id, undefined, new Date(d.last), charge.cost, charge.key, charge.description, { ...charge.metadata, unitPrice: d.unit_price }, charge.key))
    }
    const result = postings.length > 0 ? await postCharges(this.#ledger, em, postings) : { entries: [], counters: [] }
    if (settledIds.length > 0) await em.execute(`update billing_meter_event set settled_at = now() where id in (${settledIds.map(() => '?').join(',')})`, settledIds, 'run')
    for (const g of gaugeDays) {
      await em.execute(`update billing_meter_event set settled_at = now() where organization_id = ? and meter = ? and local_day = ?::date and kind = 'gauge' and settled_at is null`, [g.org, g.meter, g.day], 'run')
    }
    return { entries: result.entries, counters: result.counters, more: counters.length === limit || days.length === limit }
  }

  async #posting(
    em: TxEntityManager,
    organizationId: string,
    projectId: string | undefined,
    at: Date,
    cost: bigint,
    key: string,
    description: string,
    metadata: Record<string, string | number | boolean | null>,
    referenceId: string,
  ): Promise<ChargePosting> {
    const accountId = await this.#ledger.accounts.ensure({ organizationId }, em)
    const budgets = await this.#budgets.list(organizationId, em)
    // Meters count against the organization's caps and, when tagged, the project's.
    const applied = budgets.length === 0 ? [] : applicableBudgets(budgets, { projectId })
    const settings = applied.length > 0 ? await this.#settings.get(organizationId, em) : undefined
    return {
      draft: { accountId, organizationId, type: 'usage_debit', amount: -cost, idempotencyKey: key, description, reference: { kind: 'meter', id: referenceId }, actor: { type: 'system', id: 'billing.meters' }, metadata },
      cost,
      counters: applied.map(({ budget, subject }) => {
        const bounds = periodBounds(budget.period, at, (settings as { timezone: string }).timezone)
        return { key: budgetPoolKey(budget.id, subject, bounds.start), budget, subjectId: subject, periodStart: bounds.start, periodEnd: bounds.end }
      }),
    }
  }
}

/**
 * What a gauge day owes now: its peak at the unit-day price the first time the day is billed;
 * afterwards, when late samples raised the peak above what was billed, the difference (keyed by
 * the new peak, so the charges of a day always add up to its final peak's price, each once).
 */
function gaugeDayCharge(meter: string, day: string, peak: bigint, billedPeak: bigint | undefined, unitPrice: bigint): { cost: bigint; key: string; description: string; metadata: Record<string, string> } | undefined {
  if (billedPeak === undefined) {
    const cost = meterCost(peak, unitPrice)
    return cost > 0n ? { cost, key: `meter:${meter}:${day}`, description: `${meter} peak on ${day}`, metadata: { meter, quantity: formatQuantity(peak), day } } : undefined
  }
  if (peak <= billedPeak) return undefined
  const cost = meterCost(peak, unitPrice) - meterCost(billedPeak, unitPrice)
  if (cost <= 0n) return undefined
  return {
    cost,
    key: `meter:${meter}:${day}:peak:${peak}`,
    description: `${meter} peak on ${day} raised from ${formatQuantity(billedPeak)} to ${formatQuantity(peak)} by a late sample`,
    metadata: { meter, quantity: formatQuantity(peak), previousQuantity: formatQuantity(billedPeak), day },
  }
}

/** A number as a plain decimal string (no exponent), or a clear error. */
function numberText(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`quantity: ${n} is not a non-negative number`)
  const text = n.toFixed(QUANTITY_DECIMALS)
  if (Number(text) !== n) throw new RangeError(`quantity: ${n} has more than ${QUANTITY_DECIMALS} decimal places`)
  return text.replace(/\.?0+$/, '') || '0'
}

/** The worker that settles meter events into the ledger. */
export function meterSettlementWorker(meters: MeterService, intervalMs: number, onWritten: (r: { entries: LedgerEntry[]; counters: CounterUpdate[] }) => void, gaugeQuietMs = 0): WorkerDefinition {
  return {
    name: 'billing.meter-settlement',
    intervalMs,
    async run({ em }) {
      const r = await meters.settle(em, 500, { gaugeQuietMs })
      if (r.entries.length > 0 || r.counters.length > 0) setImmediate(() => onWritten(r))
      return r.more
    },
  }
}
