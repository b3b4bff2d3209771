import { randomUUID } from 'node:crypto'
import { TollgateError, formatUsd } from '@tollgate/core'
import { PICO_PER_CENT } from './commerce-config.js'
import { type Em, one, rows } from './commerce-db.js'

/** A row of billing_discount_code. */
export interface DiscountCodeRow {
  code: string
  kind: 'percent' | 'amount'
  percent_off: number | null
  amount_off_cents: number | null
  max_redemptions: number | null
  redeemed_count: number
  expires_at: Date | string | null
  active: boolean
  created_at: Date | string
}

/** Codes are case-insensitive; stored upper-case. */
export function normalizeCode(code: string): string {
  return code.trim().toUpperCase()
}

/** The discount in cents a code gives on a price (never more than the price). */
export function discountCents(code: DiscountCodeRow, priceCents: number): number {
  const off = code.kind === 'percent' ? Math.floor((priceCents * (code.percent_off ?? 0)) / 100) : (code.amount_off_cents ?? 0)
  return Math.min(off, priceCents)
}

function unavailable(why: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_DISCOUNT_UNAVAILABLE', `The discount code ${why}`, { field: 'discountCode' })
}

/**
 * Holds one redemption of a code for a payment, atomically: the counter only moves while the code
 * is active, unexpired and under its limit, so concurrent checkouts can never oversell it. The
 * hold turns into a redemption when the payment succeeds and is released when its checkout expires.
 */
export async function holdRedemption(em: Em, rawCode: string, organizationId: string, paymentId: string, priceCents: number): Promise<{ code: string; discountCents: number }> {
  const code = normalizeCode(rawCode)
  const known = await one<DiscountCodeRow>(em, 'select * from billing_discount_code where code = ?', [code])
  if (!known) throw unavailable(`"${code}" does not exist`)
  if (!known.active) throw unavailable(`"${code}" is no longer active`)
  if (known.expires_at && new Date(known.expires_at).getTime() <= Date.now()) throw unavailable(`"${code}" expired on ${new Date(known.expires_at).toISOString()}`)
  const taken = await one(em, "select id from billing_discount_redemption where code = ? and organization_id = ? and status <> 'released'", [code, organizationId])
  if (taken) throw unavailable(`"${code}" was already redeemed by this organization`)
  const claimed = await one<DiscountCodeRow>(
    em,
    `update billing_discount_code set redeemed_count = redeemed_count + 1
      where code = ? and active and (expires_at is null or expires_at > now()) and (max_redemptions is null or redeemed_count < max_redemptions)
      returning *`,
    [code],
  )
  if (!claimed) throw unavailable(`"${code}" has reached its limit of ${known.max_redemptions} redemptions`)
  const cents = discountCents(claimed, priceCents)
  await rows(em, "insert into billing_discount_redemption (id, code, organization_id, payment_id, status, discount_cents) values (?, ?, ?, ?, 'held', ?) returning id", [
    randomUUID(),
    code,
    organizationId,
    paymentId,
    cents,
  ])
  return { code, discountCents: cents }
}

/** Turns a payment's held redemption into a redemption, or releases it (giving the use back). */
export async function markRedemption(em: Em, paymentId: string, status: 'redeemed' | 'released'): Promise<void> {
  const changed = await rows<{ code: string }>(
    em,
    "update billing_discount_redemption set status = ?, updated_at = now() where payment_id = ? and status = 'held' returning code",
    [status, paymentId],
  )
  if (status === 'released') for (const r of changed) await rows(em, 'update billing_discount_code set redeemed_count = redeemed_count - 1 where code = ? returning code', [r.code])
}

/** A code as the API shows it. */
export function discountCodeView(c: DiscountCodeRow) {
  return {
    code: c.code,
    kind: c.kind,
    percentOff: c.percent_off,
    amountOffUsd: c.amount_off_cents === null ? null : formatUsd(BigInt(c.amount_off_cents) * PICO_PER_CENT),
    maxRedemptions: c.max_redemptions,
    redemptions: c.redeemed_count,
    expiresAt: c.expires_at ? new Date(c.expires_at).toISOString() : null,
    active: c.active,
    createdAt: new Date(c.created_at).toISOString(),
  }
}
