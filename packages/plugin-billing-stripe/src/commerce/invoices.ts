import { randomUUID } from 'node:crypto'
import { formatUsd } from '@tollgate/core'
import type Stripe from 'stripe'
import { PICO_PER_CENT } from './commerce-config.js'
import type { CommerceContext } from './commerce-context.js'
import { type Em, big, one, reader, rows, withRetry } from './commerce-db.js'
import { ensureCustomer } from './customers.js'
import { meterUsage } from './meter-usage.js'
import { effectivePlan } from './plans.js'

/** A row of billing_invoice. */
export interface InvoiceRow {
  id: string
  number: string
  organization_id: string
  period_start: Date | string
  period_end: Date | string
  status: 'pending' | 'paid' | 'void'
  currency: string
  total: string
  net_days: number
  issued_at: Date | string
  due_at: Date | string
  paid_at: Date | string | null
  stripe_invoice_id: string | null
}

/** A row of billing_invoice_line. */
export interface InvoiceLineRow {
  position: number
  kind: 'model' | 'meter' | 'credits' | 'subscription' | 'adjustment'
  description: string
  quantity: string
  unit: string
  amount: string
}

/** The status a reader sees: a pending invoice past its due date is overdue. */
export function displayStatus(inv: Pick<InvoiceRow, 'status' | 'due_at'>, now = new Date()): 'paid' | 'pending' | 'overdue' | 'void' {
  if (inv.status === 'pending' && new Date(inv.due_at).getTime() < now.getTime()) return 'overdue'
  return inv.status
}

function dateOnly(v: Date | string): string {
  return (v instanceof Date ? v.toISOString() : new Date(v).toISOString()).slice(0, 10)
}

/** An invoice as the API shows it. */
export function invoiceView(inv: InvoiceRow, lines?: InvoiceLineRow[]) {
  const start = dateOnly(inv.period_start)
  return {
    id: inv.id,
    number: inv.number,
    organizationId: inv.organization_id,
    period: start.slice(0, 7),
    periodStart: start,
    periodEnd: dateOnly(inv.period_end),
    status: displayStatus(inv),
    currency: inv.currency,
    amountUsd: formatUsd(big(inv.total)),
    netDays: inv.net_days,
    issuedAt: new Date(inv.issued_at).toISOString(),
    dueDate: dateOnly(inv.due_at),
    paidAt: inv.paid_at ? new Date(inv.paid_at).toISOString() : null,
    ...(lines
      ? {
          lines: lines.map((l) => ({ kind: l.kind, description: l.description, quantity: l.quantity, unit: l.unit, amountUsd: formatUsd(big(l.amount)) })),
        }
      : {}),
  }
}

/** A month as [start, end) UTC instants. */
export function monthRange(year: number, month: number): { start: Date; end: Date } {
  return { start: new Date(Date.UTC(year, month - 1, 1)), end: new Date(Date.UTC(year, month, 1)) }
}

/**
 * Issues an organization's invoice for a month, once (unique per organization and month). Lines:
 * LLM usage per model (tokens, at cost), metered usage per meter, and credits bought. A prepaid
 * organization has paid for everything already: the invoice totals its credit purchases and is
 * issued paid. An organization on Net-N terms (Enterprise, Net-30) is billed in arrears for its
 * usage: the invoice is pending until paid and overdue after its due date.
 */
export async function issueMonthlyInvoice(ctx: CommerceContext, organizationId: string, year: number, month: number, now = new Date()): Promise<{ invoice: InvoiceRow; created: boolean }> {
  const { start, end } = monthRange(year, month)
  const existing = await one<InvoiceRow>(reader(ctx.host.db), 'select * from billing_invoice where organization_id = ? and period_start = ?::date', [organizationId, dateOnly(start)])
  if (existing) return { invoice: existing, created: false }
  const models = await rows<{ model: string; tokens: string; requests: string; cost: string }>(
    reader(ctx.host.db),
    `select model, sum(input_tokens + output_tokens) as tokens, sum(requests) as requests, sum(cost) as cost
       from billing_usage_rollup where organization_id = ? and month = ?::date group by model order by model`,
    [organizationId, dateOnly(start)],
  )
  const meters = await meterUsage(ctx, organizationId, start, end)
  const bought = await one<{ n: string; cents: string | null; credits: string | null }>(
    reader(ctx.host.db),
    "select count(*) as n, sum(amount_cents) as cents, sum(credits + bonus_credits) as credits from billing_payment where organization_id = ? and user_id is null and status = 'succeeded' and succeeded_at >= ? and succeeded_at < ?",
    [organizationId, start.toISOString(), end.toISOString()],
  )
  return withRetry(ctx.host.db, async (em) => {
    const plan = await effectivePlan(ctx, em, organizationId)
    const arrears = plan.netDays > 0 && plan.plan.id === 'enterprise'
    const lines: Omit<InvoiceLineRow, 'position'>[] = []
    for (const m of models) {
      lines.push({ kind: 'model', description: `LLM usage: ${m.model || 'unknown model'} (${m.requests} requests)`, quantity: m.tokens ?? '0', unit: 'tokens', amount: big(m.cost).toString() })
    }
    for (const m of meters) lines.push({ kind: 'meter', description: `Metered usage: ${m.meter}`, quantity: String(m.quantity), unit: m.unit, amount: m.cost.toString() })
    const boughtCents = big(bought?.cents)
    if (Number(bought?.n ?? 0) > 0) {
      lines.push({ kind: 'credits', description: `Credits bought (${bought?.n} purchases, $${formatUsd(big(bought?.credits))} of credits incl. bonus)`, quantity: String(bought?.n), unit: 'purchases', amount: (boughtCents * PICO_PER_CENT).toString() })
    }
    const usageTotal = lines.filter((l) => l.kind === 'model' || l.kind === 'meter').reduce((s, l) => s + BigInt(l.amount), 0n)
    const total = arrears ? usageTotal : boughtCents * PICO_PER_CENT
    const netDays = arrears ? plan.netDays : ctx.config.invoices.prepaidNetDays
    const issued = now
    const due = new Date(issued.getTime() + netDays * 86_400_000)
    const [seq] = await rows<{ n: string }>(em, "select nextval('billing_invoice_number_seq') as n")
    const number = `TG-${year}${String(month).padStart(2, '0')}-${String(seq.n).padStart(6, '0')}`
    const inserted = await rows<InvoiceRow>(
      em,
      `insert into billing_invoice (id, number, organization_id, period_start, period_end, status, total, net_days, issued_at, due_at, paid_at)
       values (?, ?, ?, ?::date, ?::date, ?, ?, ?, ?, ?, ?) on conflict (organization_id, period_start) do nothing returning *`,
      [randomUUID(), number, organizationId, dateOnly(start), dateOnly(new Date(end.getTime() - 86_400_000)), arrears && total > 0n ? 'pending' : 'paid', total.toString(), netDays, issued.toISOString(), due.toISOString(), arrears && total > 0n ? null : issued.toISOString()],
    )
    if (inserted.length === 0) {
      return { invoice: (await one<InvoiceRow>(em, 'select * from billing_invoice where organization_id = ? and period_start = ?::date', [organizationId, dateOnly(start)]))!, created: false }
    }
    const invoice = inserted[0]
    let position = 0
    for (const l of lines) {
      await rows(em, 'insert into billing_invoice_line (invoice_id, position, kind, description, quantity, unit, amount) values (?, ?, ?, ?, ?, ?, ?) returning position', [
        invoice.id,
        position++,
        l.kind,
        l.description,
        l.quantity,
        l.unit,
        l.amount,
      ])
    }
    await ctx.host.events.emit('billing.invoiceChanged', { organizationId, invoiceId: invoice.id, after: invoiceView(invoice) }, { organizationId, actor: { type: 'system', id: 'invoices' }, em })
    return { invoice, created: true }
  })
}

/** Rounds picodollars to whole cents, half up (Stripe bills whole cents). */
function toCents(pico: bigint): number {
  return Number((pico + PICO_PER_CENT / 2n) / PICO_PER_CENT)
}

/**
 * Sends a pending Net-N invoice through Stripe Invoicing: a `send_invoice` invoice due in the
 * invoice's net days, one invoice item per billable line, finalized and emailed by Stripe. Its
 * invoice.paid webhook (carrying our invoice id in metadata) marks ours paid. Idempotency keys
 * derived from our invoice make a retry after a failure reuse what Stripe already made.
 */
export async function sendInvoiceThroughStripe(ctx: CommerceContext, invoice: InvoiceRow): Promise<string | undefined> {
  const stripe = ctx.stripe
  if (!stripe || invoice.status !== 'pending' || invoice.stripe_invoice_id) return invoice.stripe_invoice_id ?? undefined
  const lines = await rows<InvoiceLineRow>(reader(ctx.host.db), "select * from billing_invoice_line where invoice_id = ? and kind in ('model','meter') order by position", [invoice.id])
  const customer = await ensureCustomer(ctx, { organizationId: invoice.organization_id })
  const view = invoiceView(invoice)
  const created = await stripe.invoices.create(
    {
      customer: customer.stripe_customer_id,
      collection_method: 'send_invoice',
      days_until_due: Math.max(1, invoice.net_days),
      auto_advance: false,
      currency: invoice.currency,
      description: `Usage for ${view.period} (invoice ${invoice.number})`,
      metadata: { tollgate_invoice_id: invoice.id, tollgate_invoice_number: invoice.number },
    },
    { idempotencyKey: `tollgate-invoice:${invoice.id}` },
  )
  for (const l of lines) {
    const cents = toCents(big(l.amount))
    if (cents <= 0) continue
    await stripe.invoiceItems.create(
      { customer: customer.stripe_customer_id, invoice: created.id, amount: cents, currency: invoice.currency, description: `${l.description}: ${l.quantity} ${l.unit}` },
      { idempotencyKey: `tollgate-invoice-item:${invoice.id}:${l.position}` },
    )
  }
  await stripe.invoices.finalizeInvoice(created.id, {}, { idempotencyKey: `tollgate-invoice-finalize:${invoice.id}` })
  await stripe.invoices.sendInvoice(created.id, {}, { idempotencyKey: `tollgate-invoice-send:${invoice.id}` })
  await rows(reader(ctx.host.db), 'update billing_invoice set stripe_invoice_id = ? where id = ? and stripe_invoice_id is null returning id', [created.id, invoice.id])
  return created.id
}

/** Sends every pending Net-N invoice not yet in Stripe (after a Stripe outage, the next run catches up). */
export async function sendPendingInvoices(ctx: CommerceContext): Promise<number> {
  if (!ctx.stripe) return 0
  const pending = await rows<InvoiceRow>(reader(ctx.host.db), "select * from billing_invoice where status = 'pending' and stripe_invoice_id is null and net_days > 0 order by issued_at limit 200")
  let sent = 0
  for (const inv of pending) {
    try {
      if (await sendInvoiceThroughStripe(ctx, inv)) sent++
    } catch (err) {
      ctx.host.log.error({ err, invoiceId: inv.id }, 'could not send the invoice through Stripe; will retry')
    }
  }
  return sent
}

/** Issues last month's invoices of every organization that had usage or purchases (the monthly worker). */
export async function issueLastMonthInvoices(ctx: CommerceContext, now = new Date()): Promise<number> {
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))
  const { start, end } = monthRange(last.getUTCFullYear(), last.getUTCMonth() + 1)
  const orgs = await rows<{ organization_id: string }>(
    reader(ctx.host.db),
    `select organization_id from billing_usage_rollup where month = ?::date
     union select organization_id from billing_payment where status = 'succeeded' and succeeded_at >= ? and succeeded_at < ?
     except select organization_id from billing_invoice where period_start = ?::date`,
    [dateOnly(start), start.toISOString(), end.toISOString(), dateOnly(start)],
  )
  let issued = 0
  for (const o of orgs) if ((await issueMonthlyInvoice(ctx, o.organization_id, last.getUTCFullYear(), last.getUTCMonth() + 1, now)).created) issued++
  await sendPendingInvoices(ctx)
  return issued
}

/** Marks an invoice paid (a platform administrator recording a wire or ACH payment, or Stripe's invoice.paid). */
export async function markInvoicePaid(ctx: CommerceContext, em: Em, invoiceId: string, actor: { type: 'user' | 'system'; id: string }, meta: { ip?: string; userAgent?: string } = {}): Promise<InvoiceRow | undefined> {
  const before = await one<InvoiceRow>(em, 'select * from billing_invoice where id = ? for update', [invoiceId])
  if (!before) return undefined
  if (before.status !== 'pending') return before
  const [after] = await rows<InvoiceRow>(em, "update billing_invoice set status = 'paid', paid_at = now() where id = ? returning *", [invoiceId])
  await ctx.host.events.emit(
    'billing.invoiceChanged',
    { organizationId: after.organization_id, invoiceId, before: invoiceView(before), after: invoiceView(after) },
    { organizationId: after.organization_id, actor, ip: meta.ip, userAgent: meta.userAgent, em },
  )
  return after
}

/** Stripe's invoice.paid for an invoice that carries our invoice id marks ours paid. */
export async function markInvoicePaidByStripe(ctx: CommerceContext, em: Em, invoice: Stripe.Invoice): Promise<void> {
  const ours = invoice.metadata?.tollgate_invoice_id
  const row = ours
    ? await one<{ id: string }>(em, 'select id from billing_invoice where id::text = ?', [ours])
    : await one<{ id: string }>(em, 'select id from billing_invoice where stripe_invoice_id = ?', [invoice.id])
  if (row) await markInvoicePaid(ctx, em, row.id, { type: 'system', id: 'stripe' })
}
