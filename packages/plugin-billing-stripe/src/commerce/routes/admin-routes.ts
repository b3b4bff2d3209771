import { randomUUID } from 'node:crypto'
import { TollgateError, formatUsd } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { ensureAccountCommitted } from '../accounts.js'
import { authorizeBilling } from '../billing-access.js'
import { PICO_PER_CENT } from '../commerce-config.js'
import type { CommerceContext } from '../commerce-context.js'
import { inTransaction, reader, rows, withRetry } from '../commerce-db.js'
import { type DiscountCodeRow, discountCodeView, normalizeCode } from '../discount-codes.js'
import { applyReferralCode, referralCodeOf } from '../referrals.js'
import { entryView } from './report-routes.js'
import { centsOf, type OrgParams, orgParams, signedUsd, usdString } from './route-helpers.js'

const codeParams = { type: 'object', required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 64 } } } as const

/** Gifts and adjustments, discount codes, payment failures across organizations, referrals. */
export function adminRoutes(ctx: CommerceContext) {
  return async (app: FastifyInstance) => {
    // Gift credits (positive) or adjust (either sign), audited: the event carries the balance before and after and commits with the entry.
    app.post<{ Params: OrgParams; Body: { type: 'gift' | 'adjustment'; amountUsd: string; reason: string; userId?: string; idempotencyKey?: string } }>(
      '/admin/organizations/:organizationId/credits',
      {
        schema: {
          params: orgParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['type', 'amountUsd', 'reason'],
            properties: {
              type: { enum: ['gift', 'adjustment'] },
              amountUsd: usdString,
              reason: { type: 'string', minLength: 3, maxLength: 500 },
              userId: { type: 'string', format: 'uuid' },
              idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
            },
          },
        },
      },
      async (request, reply) => {
        const { organizationId } = request.params
        const caller = await authorizeBilling(ctx, request, organizationId, 'platform')
        const { type, reason, userId } = request.body
        const amount = signedUsd(request.body.amountUsd, 'amountUsd')
        if (amount === 0n) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'amountUsd: must not be zero', { field: 'amountUsd' })
        if (type === 'gift' && amount < 0n) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'amountUsd: a gift must be positive (use an adjustment to take credits away)', { field: 'amountUsd' })
        if (!(await ctx.identity.getOrganization(organizationId))) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Organization not found')
        const account = userId ? { organizationId, userId } : { organizationId }
        const key = request.body.idempotencyKey ?? randomUUID()
        await ensureAccountCommitted(ctx.host, account)
        const result = await withRetry(ctx.host.db, async (em) => {
          const before = await ctx.ledger.balance(account, em)
          const r = await ctx.ledger.post(
            { account, type, amount, idempotencyKey: `admin:${key}`, description: reason, reference: { kind: 'admin', id: caller.principal.userId }, actor: caller.actor, metadata: { reason } },
            em,
          )
          if (r.duplicate) return r
          const after = await ctx.ledger.balance(account, em)
          await ctx.host.events.emit(
            type === 'gift' ? 'billing.creditsGifted' : 'billing.creditsAdjusted',
            { organizationId, ...(userId ? { userId } : {}), entryId: r.entry.id, amount: formatUsd(amount), reason, before: { balanceUsd: formatUsd(before) }, after: { balanceUsd: formatUsd(after) } },
            { organizationId, actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em },
          )
          return r
        })
        return reply.code(result.duplicate ? 200 : 201).send({ entry: entryView(result.entry), duplicate: result.duplicate })
      },
    )

    app.post<{ Body: { code: string; kind: 'percent' | 'amount'; percentOff?: number; amountOffUsd?: string; maxRedemptions?: number; expiresAt?: string } }>(
      '/admin/discount-codes',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['code', 'kind'],
            properties: {
              code: { type: 'string', pattern: '^[A-Za-z0-9_-]{3,64}$' },
              kind: { enum: ['percent', 'amount'] },
              percentOff: { type: 'integer', minimum: 1, maximum: 100 },
              amountOffUsd: { type: 'string' },
              maxRedemptions: { type: 'integer', minimum: 1 },
              expiresAt: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
      async (request, reply) => {
        const caller = await authorizeBilling(ctx, request, undefined, 'platform')
        const b = request.body
        if (b.kind === 'percent' && b.percentOff === undefined) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'percentOff: required for a percent code', { field: 'percentOff' })
        if (b.kind === 'amount' && b.amountOffUsd === undefined) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'amountOffUsd: required for an amount code', { field: 'amountOffUsd' })
        if (b.kind === 'percent' && b.amountOffUsd !== undefined) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'amountOffUsd: not allowed on a percent code', { field: 'amountOffUsd' })
        if (b.kind === 'amount' && b.percentOff !== undefined) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'percentOff: not allowed on an amount code', { field: 'percentOff' })
        if (b.expiresAt && new Date(b.expiresAt).getTime() <= Date.now()) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'expiresAt: must be in the future', { field: 'expiresAt' })
        const code = normalizeCode(b.code)
        const amountOff = b.amountOffUsd ? centsOf(b.amountOffUsd, 'amountOffUsd') : null
        const row = await inTransaction(ctx.host.db, async (em) => {
          const [inserted] = await rows<DiscountCodeRow>(
            em,
            `insert into billing_discount_code (code, kind, percent_off, amount_off_cents, max_redemptions, expires_at, created_by) values (?, ?, ?, ?, ?, ?, ?)
             on conflict (code) do nothing returning *`,
            [code, b.kind, b.percentOff ?? null, amountOff, b.maxRedemptions ?? null, b.expiresAt ?? null, caller.principal.userId],
          )
          if (!inserted) throw new TollgateError('TOLLGATE_ERR_REQUEST_CONFLICT', `code: "${code}" already exists`, { field: 'code' })
          await ctx.host.events.emit('billing.discountCodeChanged', { code, after: discountCodeView(inserted) }, { actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em })
          return inserted
        })
        return reply.code(201).send(discountCodeView(row))
      },
    )

    app.get('/admin/discount-codes', async (request) => {
      await authorizeBilling(ctx, request, undefined, 'platform')
      const list = await rows<DiscountCodeRow>(reader(ctx.host.db), 'select * from billing_discount_code order by created_at desc limit 1000')
      return { codes: list.map(discountCodeView) }
    })

    app.patch<{ Params: { code: string }; Body: { active?: boolean; maxRedemptions?: number | null; expiresAt?: string | null } }>(
      '/admin/discount-codes/:code',
      {
        schema: {
          params: codeParams,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { active: { type: 'boolean' }, maxRedemptions: { type: ['integer', 'null'], minimum: 1 }, expiresAt: { type: ['string', 'null'], format: 'date-time' } },
          },
        },
      },
      async (request) => {
        const caller = await authorizeBilling(ctx, request, undefined, 'platform')
        const code = normalizeCode(request.params.code)
        const b = request.body
        const after = await inTransaction(ctx.host.db, async (em) => {
          const [before] = await rows<DiscountCodeRow>(em, 'select * from billing_discount_code where code = ? for update', [code])
          if (!before) throw new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Discount code not found')
          if (b.maxRedemptions != null && b.maxRedemptions < before.redeemed_count) {
            throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `maxRedemptions: ${before.redeemed_count} redemptions exist already`, { field: 'maxRedemptions' })
          }
          const [row] = await rows<DiscountCodeRow>(em, 'update billing_discount_code set active = ?, max_redemptions = ?, expires_at = ? where code = ? returning *', [
            b.active ?? before.active,
            b.maxRedemptions === undefined ? before.max_redemptions : b.maxRedemptions,
            b.expiresAt === undefined ? before.expires_at : b.expiresAt,
            code,
          ])
          await ctx.host.events.emit('billing.discountCodeChanged', { code, before: discountCodeView(before), after: discountCodeView(row) }, { actor: caller.actor, ip: caller.ip, userAgent: caller.userAgent, em })
          return row
        })
        return discountCodeView(after)
      },
    )

    app.get<{ Params: { code: string } }>('/admin/discount-codes/:code/redemptions', { schema: { params: codeParams } }, async (request) => {
      await authorizeBilling(ctx, request, undefined, 'platform')
      const list = await rows<{ organization_id: string; payment_id: string; status: string; discount_cents: number; created_at: Date | string }>(
        reader(ctx.host.db),
        'select * from billing_discount_redemption where code = ? order by created_at desc limit 1000',
        [normalizeCode(request.params.code)],
      )
      return {
        redemptions: list.map((r) => ({ organizationId: r.organization_id, paymentId: r.payment_id, status: r.status, discountUsd: formatUsd(BigInt(r.discount_cents) * PICO_PER_CENT), at: new Date(r.created_at).toISOString() })),
      }
    })

    // Payment failures across every organization (seed 000: "monitor payment failures").
    app.get<{ Querystring: { limit?: number } }>(
      '/admin/payment-failures',
      { schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } } } },
      async (request) => {
        await authorizeBilling(ctx, request, undefined, 'platform')
        const list = await rows<{ id: string; organization_id: string; payment_id: string | null; kind: string; code: string | null; message: string | null; created_at: Date | string }>(
          reader(ctx.host.db),
          `select * from billing_payment_failure order by created_at desc limit ${request.query.limit ?? 200}`,
        )
        return { failures: list.map((f) => ({ id: f.id, organizationId: f.organization_id, paymentId: f.payment_id, kind: f.kind, code: f.code, message: f.message, at: new Date(f.created_at).toISOString() })) }
      },
    )

    app.get<{ Params: OrgParams }>('/organizations/:organizationId/referral', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params
      await authorizeBilling(ctx, request, organizationId, 'view')
      const code = await referralCodeOf(reader(ctx.host.db), organizationId)
      const referred = await rows<{ referred_organization_id: string; created_at: Date | string; rewarded_at: Date | string | null }>(
        reader(ctx.host.db),
        'select * from billing_referral where referrer_organization_id = ? order by created_at desc limit 500',
        [organizationId],
      )
      const earned = referred.filter((r) => r.rewarded_at).length
      return {
        code,
        rewardUsd: formatUsd(ctx.config.referrals.reward),
        referred: referred.map((r) => ({ organizationId: r.referred_organization_id, since: new Date(r.created_at).toISOString(), rewardedAt: r.rewarded_at ? new Date(r.rewarded_at).toISOString() : null })),
        earningsUsd: formatUsd(ctx.config.referrals.reward * BigInt(earned)),
      }
    })

    app.post<{ Params: OrgParams; Body: { code: string } }>(
      '/organizations/:organizationId/referral',
      { schema: { params: orgParams, body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', minLength: 3, maxLength: 64 } } } } },
      async (request, reply) => {
        const { organizationId } = request.params
        await authorizeBilling(ctx, request, organizationId, 'manage')
        const r = await inTransaction(ctx.host.db, (em) => applyReferralCode(em, organizationId, request.body.code))
        await ensureAccountCommitted(ctx.host, { organizationId: r.referrerOrganizationId })
        return reply.code(201).send({ referredBy: r.referrerOrganizationId })
      },
    )
  }
}
