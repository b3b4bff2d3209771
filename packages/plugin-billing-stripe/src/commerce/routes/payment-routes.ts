import { TollgateError, formatUsd } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { accountKey } from '../accounts.js'
import { autoTopupOf, autoTopupView, checkAutoTopup, saveAutoTopup } from '../auto-topup.js'
import { authorizeBilling } from '../billing-access.js'
import { packageById, startCheckout } from '../checkout.js'
import type { CommerceContext } from '../commerce-context.js'
import { inTransaction, one, reader, rows } from '../commerce-db.js'
import { ensureCustomer, requireStripe } from '../customers.js'
import { lockPayment, type PaymentRow, paymentView } from '../payments.js'
import { refundPayment } from '../refunds.js'
import { stripeFailure } from '../stripe-client.js'
import { centsOf, type OrgParams, orgParams, signedUsd } from './route-helpers.js'

/** Checkout, customer portal, payments and failures, refunds, auto-topup. */
export function paymentRoutes(ctx: CommerceContext) {
  return async (app: FastifyInstance) => {
    app.get('/credit-packages', async () => ({
      devMode: ctx.config.devMode,
      packages: ctx.config.creditPackages.map((p) => ({
        id: p.id,
        name: p.name,
        priceUsd: formatUsd(BigInt(p.priceCents) * 10_000_000_000n),
        creditsUsd: formatUsd(p.credits),
        bonusCreditsUsd: formatUsd(p.bonusCredits),
        totalCreditsUsd: formatUsd(p.credits + p.bonusCredits),
        // Effective cost of one dollar of credits, so buyers can compare packages (seed 004).
        pricePerCreditUsd: formatUsd((BigInt(p.priceCents) * 10_000_000_000n * 1_000_000_000_000n) / (p.credits + p.bonusCredits || 1n)),
      })),
    }))

    app.post<{ Params: OrgParams; Body: { packageId: string; discountCode?: string; personal?: boolean } }>(
      '/organizations/:organizationId/checkout',
      {
        schema: {
          params: orgParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['packageId'],
            properties: { packageId: { type: 'string', minLength: 1 }, discountCode: { type: 'string', minLength: 1, maxLength: 64 }, personal: { type: 'boolean' } },
          },
        },
      },
      async (request, reply) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'pay')
        packageById(ctx, request.body.packageId)
        const account = request.body.personal ? { organizationId, userId: caller.principal.userId } : { organizationId }
        const result = await startCheckout(ctx, account, request.body.packageId, { userId: caller.principal.userId, apiKeyId: caller.principal.apiKeyId, ip: caller.ip, userAgent: caller.userAgent }, request.body.discountCode)
        return reply.code(result.mode === 'stripe' ? 201 : 200).send(result)
      },
    )

    app.post<{ Params: OrgParams; Body: { returnUrl?: string; personal?: boolean } }>(
      '/organizations/:organizationId/portal',
      { schema: { params: orgParams, body: { type: 'object', additionalProperties: false, properties: { returnUrl: { type: 'string', format: 'uri' }, personal: { type: 'boolean' } } } } },
      async (request) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'pay')
        const stripe = requireStripe(ctx)
        const account = request.body?.personal ? { organizationId, userId: caller.principal.userId } : { organizationId }
        const customer = await ensureCustomer(ctx, account)
        try {
          const session = await stripe.billingPortal.sessions.create({ customer: customer.stripe_customer_id, return_url: request.body?.returnUrl ?? ctx.config.stripe!.portalReturnUrl })
          return { url: session.url, expiresInSeconds: 300 }
        } catch (err) {
          throw stripeFailure(err, 'Opening the customer portal')
        }
      },
    )

    app.get<{ Params: OrgParams; Querystring: { status?: string; limit?: number } }>(
      '/organizations/:organizationId/payments',
      {
        schema: {
          params: orgParams,
          querystring: { type: 'object', additionalProperties: false, properties: { status: { enum: ['pending', 'succeeded', 'failed', 'expired'] }, limit: { type: 'integer', minimum: 1, maximum: 500 } } },
        },
      },
      async (request) => {
        const { organizationId } = request.params
        await authorizeBilling(ctx, request, organizationId, 'view')
        const em = reader(ctx.host.db)
        const params: unknown[] = [organizationId]
        let filter = ''
        if (request.query.status) {
          filter = ' and status = ?'
          params.push(request.query.status)
        }
        const limit = request.query.limit ?? 100
        const payments = await rows<PaymentRow>(em, `select * from billing_payment where organization_id = ?${filter} order by created_at desc, id limit ${limit}`, params)
        const failures = await rows<{ id: string; payment_id: string | null; kind: string; code: string | null; message: string | null; stripe_payment_intent_id: string | null; created_at: Date | string }>(
          em,
          `select * from billing_payment_failure where organization_id = ? order by created_at desc limit ${limit}`,
          [organizationId],
        )
        return {
          payments: payments.map(paymentView),
          failures: failures.map((f) => ({ id: f.id, paymentId: f.payment_id, kind: f.kind, code: f.code, message: f.message, stripePaymentIntentId: f.stripe_payment_intent_id, at: new Date(f.created_at).toISOString() })),
        }
      },
    )

    app.post<{ Params: OrgParams & { paymentId: string }; Body: { amountUsd?: string; reason?: string; idempotencyKey?: string } }>(
      '/organizations/:organizationId/payments/:paymentId/refund',
      {
        schema: {
          params: { type: 'object', required: ['organizationId', 'paymentId'], properties: { organizationId: { type: 'string' }, paymentId: { type: 'string', format: 'uuid' } } },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { amountUsd: { type: 'string' }, reason: { type: 'string', maxLength: 400 }, idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 } },
          },
        },
      },
      async (request) => {
        const { organizationId, paymentId } = request.params
        await authorizeBilling(ctx, request, organizationId, 'platform')
        const payment = await inTransaction(ctx.host.db, (em) => lockPayment(em, paymentId))
        if (!payment || payment.organization_id !== organizationId) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Payment not found')
        const cents = request.body?.amountUsd ? centsOf(request.body.amountUsd, 'amountUsd') : undefined
        const key = request.body?.idempotencyKey ?? `${payment.refunded_cents}:${cents ?? 'rest'}`
        return refundPayment(ctx, payment, cents, key, request.body?.reason)
      },
    )

    app.get<{ Params: OrgParams; Querystring: { personal?: boolean } }>(
      '/organizations/:organizationId/auto-topup',
      { schema: { params: orgParams, querystring: { type: 'object', additionalProperties: false, properties: { personal: { type: 'boolean' } } } } },
      async (request) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'view')
        const account = request.query.personal ? { organizationId, userId: caller.principal.userId } : { organizationId }
        const customer = await one<{ default_payment_method: string | null }>(reader(ctx.host.db), 'select default_payment_method from billing_customer where account_key = ?', [accountKey(account)])
        return { ...autoTopupView(await autoTopupOf(reader(ctx.host.db), account)), hasPaymentMethod: Boolean(customer?.default_payment_method) }
      },
    )

    app.put<{ Params: OrgParams; Body: { enabled: boolean; thresholdUsd: string; amountUsd: string; personal?: boolean } }>(
      '/organizations/:organizationId/auto-topup',
      {
        schema: {
          params: orgParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['enabled', 'thresholdUsd', 'amountUsd'],
            properties: { enabled: { type: 'boolean' }, thresholdUsd: { type: 'string' }, amountUsd: { type: 'string' }, personal: { type: 'boolean' } },
          },
        },
      },
      async (request) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'pay')
        const threshold = signedUsd(request.body.thresholdUsd, 'thresholdUsd')
        if (threshold < 0n) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'thresholdUsd: must not be negative', { field: 'thresholdUsd' })
        const amountCents = centsOf(request.body.amountUsd, 'amountUsd')
        if (amountCents < ctx.config.autoTopup.minimumCents) {
          throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `amountUsd: the smallest auto-topup is $${formatUsd(BigInt(ctx.config.autoTopup.minimumCents) * 10_000_000_000n)}`, { field: 'amountUsd' })
        }
        const account = request.body.personal ? { organizationId, userId: caller.principal.userId } : { organizationId }
        const saved = await inTransaction(ctx.host.db, async (em) => {
          const before = await autoTopupOf(em, account)
          const after = await saveAutoTopup(em, account, { enabled: request.body.enabled, threshold, amountCents })
          await ctx.host.events.emit(
            'billing.autoTopupChanged',
            { organizationId, ...(account.userId ? { userId: account.userId } : {}), ...(before ? { before: autoTopupView(before) } : {}), after: autoTopupView(after) },
            { organizationId, actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em },
          )
          return after
        })
        if (saved.enabled) ctx.autoTopupAccounts.add(accountKey(account))
        else ctx.autoTopupAccounts.delete(accountKey(account))
        // A balance already below the new threshold tops up now rather than at the next debit.
        const outcome = saved.enabled ? await checkAutoTopup(ctx, account) : 'disabled'
        return { ...autoTopupView((await autoTopupOf(reader(ctx.host.db), account)) ?? saved), lastCheck: outcome }
      },
    )
  }
}
