import { LEDGER_TX_TYPES, type LedgerEntry, type LedgerTxType } from '../../ledger/ledger-types.js'
import { TollgateError, formatUsd } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { authorizeBilling } from '../billing-access.js'
import type { CommerceContext } from '../commerce-context.js'
import { inTransaction, one, reader, rows } from '../commerce-db.js'
import { renderInvoicePdf } from '../invoice-pdf.js'
import { displayStatus, type InvoiceLineRow, type InvoiceRow, invoiceView, issueMonthlyInvoice, markInvoicePaid, sendInvoiceThroughStripe } from '../invoices.js'
import { costBreakdown, usageSummaries } from '../reports.js'
import { type OrgParams, orgParams, periodOf, periodQuery } from './route-helpers.js'

/** A ledger entry as the API shows it (amounts as exact USD strings). */
export function entryView(e: LedgerEntry) {
  return {
    id: e.id,
    type: e.type,
    amountUsd: formatUsd(e.amount),
    balanceAfterUsd: formatUsd(e.balanceAfter),
    ...(e.userId ? { userId: e.userId } : {}),
    description: e.description ?? null,
    reference: e.reference ?? null,
    actor: e.actor ?? null,
    reversesEntryId: e.reversesEntryId ?? null,
    metadata: e.metadata ?? {},
    createdAt: e.createdAt.toISOString(),
  }
}

const invoiceParams = { type: 'object', required: ['organizationId', 'invoiceId'], properties: { organizationId: { type: 'string' }, invoiceId: { type: 'string', format: 'uuid' } } } as const

/** Invoices (list, detail, PDF, issue, mark paid), usage summaries, cost breakdown, transaction history. */
export function reportRoutes(ctx: CommerceContext) {
  async function invoiceOf(organizationId: string, invoiceId: string): Promise<InvoiceRow> {
    const inv = await one<InvoiceRow>(reader(ctx.host.db), 'select * from billing_invoice where id = ? and organization_id = ?', [invoiceId, organizationId])
    if (!inv) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Invoice not found')
    return inv
  }
  const linesOf = (invoiceId: string) => rows<InvoiceLineRow>(reader(ctx.host.db), 'select * from billing_invoice_line where invoice_id = ? order by position', [invoiceId])

  return async (app: FastifyInstance) => {
    app.get<{ Params: OrgParams; Querystring: { year?: number; month?: number; status?: string } }>(
      '/organizations/:organizationId/invoices',
      {
        schema: {
          params: orgParams,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { year: { type: 'integer', minimum: 2000, maximum: 2200 }, month: { type: 'integer', minimum: 1, maximum: 12 }, status: { enum: ['paid', 'pending', 'overdue', 'void'] } },
          },
        },
      },
      async (request) => {
        const { organizationId } = request.params
        await authorizeBilling(ctx, request, organizationId, 'view')
        const where = ['organization_id = ?']
        const params: unknown[] = [organizationId]
        if (request.query.year) {
          where.push('extract(year from period_start) = ?')
          params.push(request.query.year)
        }
        if (request.query.month) {
          where.push('extract(month from period_start) = ?')
          params.push(request.query.month)
        }
        const list = await rows<InvoiceRow>(reader(ctx.host.db), `select * from billing_invoice where ${where.join(' and ')} order by period_start desc limit 500`, params)
        const wanted = request.query.status
        return { invoices: list.filter((i) => !wanted || displayStatus(i) === wanted).map((i) => invoiceView(i)) }
      },
    )

    app.get<{ Params: OrgParams & { invoiceId: string } }>('/organizations/:organizationId/invoices/:invoiceId', { schema: { params: invoiceParams } }, async (request) => {
      const { organizationId, invoiceId } = request.params
      await authorizeBilling(ctx, request, organizationId, 'view')
      const inv = await invoiceOf(organizationId, invoiceId)
      return invoiceView(inv, await linesOf(inv.id))
    })

    app.get<{ Params: OrgParams & { invoiceId: string } }>('/organizations/:organizationId/invoices/:invoiceId/pdf', { schema: { params: invoiceParams } }, async (request, reply) => {
      const { organizationId, invoiceId } = request.params
      await authorizeBilling(ctx, request, organizationId, 'view')
      const inv = await invoiceOf(organizationId, invoiceId)
      const org = await ctx.identity.getOrganization(organizationId)
      const pdf = await renderInvoicePdf(inv, await linesOf(inv.id), { issuerName: ctx.config.invoices.issuerName, issuerAddress: ctx.config.invoices.issuerAddress, customerName: org?.name ?? organizationId })
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `attachment; filename="invoice-${inv.number}.pdf"`)
        .send(Buffer.from(pdf))
    })

    // Issues (or returns) the invoice of a past month now, without waiting for the monthly worker.
    app.post<{ Params: OrgParams; Body: { year: number; month: number } }>(
      '/organizations/:organizationId/invoices',
      {
        schema: {
          params: orgParams,
          body: { type: 'object', additionalProperties: false, required: ['year', 'month'], properties: { year: { type: 'integer', minimum: 2000, maximum: 2200 }, month: { type: 'integer', minimum: 1, maximum: 12 } } },
        },
      },
      async (request, reply) => {
        const { organizationId } = request.params
        await authorizeBilling(ctx, request, organizationId, 'platform')
        const { year, month } = request.body
        const now = new Date()
        if (Date.UTC(year, month, 1) > now.getTime()) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'month: only a month that has ended can be invoiced', { field: 'month' })
        const { invoice, created } = await issueMonthlyInvoice(ctx, organizationId, year, month)
        let sent = invoice
        try {
          if (await sendInvoiceThroughStripe(ctx, invoice)) sent = (await one<InvoiceRow>(reader(ctx.host.db), 'select * from billing_invoice where id = ?', [invoice.id])) ?? invoice
        } catch (err) {
          // The invoice stands; the monthly worker sends it once Stripe answers again.
          ctx.host.log.error({ err, invoiceId: invoice.id }, 'could not send the invoice through Stripe')
        }
        return reply.code(created ? 201 : 200).send({ ...invoiceView(sent, await linesOf(invoice.id)), stripeInvoiceId: sent.stripe_invoice_id })
      },
    )

    app.post<{ Params: OrgParams & { invoiceId: string } }>('/organizations/:organizationId/invoices/:invoiceId/paid', { schema: { params: invoiceParams } }, async (request) => {
      const { organizationId, invoiceId } = request.params
      const caller = await authorizeBilling(ctx, request, organizationId, 'platform')
      await invoiceOf(organizationId, invoiceId)
      const after = await inTransaction(ctx.host.db, (em) => markInvoicePaid(ctx, em, invoiceId, { type: 'user', id: caller.principal.userId }, { ip: caller.ip, userAgent: caller.userAgent }))
      return invoiceView(after!)
    })

    // Monthly usage summaries: filter by organization (required unless a platform administrator), year and month.
    app.get<{ Querystring: { organizationId?: string; year?: number; month?: number } }>('/usage-summaries', { schema: { querystring: periodQuery } }, async (request) => {
      const { organizationId, year, month } = request.query
      if (organizationId) await authorizeBilling(ctx, request, organizationId, 'view')
      else await authorizeBilling(ctx, request, undefined, 'platform')
      return { summaries: await usageSummaries(ctx, { organizationId, year, month }) }
    })

    app.get<{ Params: OrgParams; Querystring: { year?: number; month?: number } }>(
      '/organizations/:organizationId/cost-breakdown',
      { schema: { params: orgParams, querystring: periodQuery } },
      async (request) => {
        const { organizationId } = request.params
        await authorizeBilling(ctx, request, organizationId, 'view')
        const { year, month } = periodOf(request.query)
        return costBreakdown(ctx, organizationId, year, month)
      },
    )

    app.get<{ Params: OrgParams; Querystring: { types?: string; from?: string; to?: string; limit?: number; cursor?: string; userId?: string } }>(
      '/organizations/:organizationId/transactions',
      {
        schema: {
          params: orgParams,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              types: { type: 'string', pattern: `^(${LEDGER_TX_TYPES.join('|')})(,(${LEDGER_TX_TYPES.join('|')}))*$` },
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              limit: { type: 'integer', minimum: 1, maximum: 500 },
              cursor: { type: 'string', maxLength: 500 },
              userId: { type: 'string', format: 'uuid' },
            },
          },
        },
      },
      async (request) => {
        const { organizationId } = request.params
        const q = request.query
        // Anyone may read their own personal (developer-plan) account; other accounts need billing access.
        await authorizeBilling(ctx, request, organizationId, q.userId && q.userId === request.principal?.userId ? 'member' : 'view')
        const page = await ctx.ledger.history(q.userId ? { organizationId, userId: q.userId } : { organizationId }, {
          types: q.types ? (q.types.split(',') as LedgerTxType[]) : undefined,
          from: q.from ? new Date(q.from) : undefined,
          to: q.to ? new Date(q.to) : undefined,
          limit: q.limit ?? 50,
          cursor: q.cursor,
        })
        const balance = await ctx.ledger.balance(q.userId ? { organizationId, userId: q.userId } : { organizationId })
        return { balanceUsd: formatUsd(balance), transactions: page.entries.map(entryView), nextCursor: page.nextCursor ?? null }
      },
    )
  }
}
