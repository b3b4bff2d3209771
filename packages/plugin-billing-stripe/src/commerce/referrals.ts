import { randomBytes } from 'node:crypto'
import { TollgateError, formatUsd } from '@tollgate/core'
import type { CommerceContext } from './commerce-context.js'
import { type Em, one, rows } from './commerce-db.js'

/** The organization's referral code, made on first use. */
export async function referralCodeOf(em: Em, organizationId: string): Promise<string> {
  const found = await one<{ code: string }>(em, 'select code from billing_referral_code where organization_id = ?', [organizationId])
  if (found) return found.code
  const code = `REF-${randomBytes(5).toString('hex').toUpperCase()}`
  await rows(em, 'insert into billing_referral_code (organization_id, code) values (?, ?) on conflict (organization_id) do nothing returning code', [organizationId, code])
  const row = await one<{ code: string }>(em, 'select code from billing_referral_code where organization_id = ?', [organizationId])
  return row?.code ?? code
}

/** Records who referred an organization: only once, never itself, and only before its first purchase. */
export async function applyReferralCode(em: Em, referredOrganizationId: string, rawCode: string): Promise<{ referrerOrganizationId: string }> {
  const code = rawCode.trim().toUpperCase()
  const owner = await one<{ organization_id: string }>(em, 'select organization_id from billing_referral_code where code = ?', [code])
  const invalid = (why: string) => new TollgateError('TOLLGATE_ERR_REFERRAL_INVALID', `The referral code ${why}`, { field: 'code' })
  if (!owner) throw invalid(`"${code}" does not exist`)
  if (owner.organization_id === referredOrganizationId) throw invalid('is your own organization’s')
  const bought = await one(em, "select id from billing_payment where organization_id = ? and status = 'succeeded' and kind <> 'development' limit 1", [referredOrganizationId])
  if (bought) throw invalid('can only be applied before the organization’s first purchase')
  const inserted = await rows(em, 'insert into billing_referral (referred_organization_id, referrer_organization_id, code) values (?, ?, ?) on conflict do nothing returning code', [
    referredOrganizationId,
    owner.organization_id,
    code,
  ])
  if (inserted.length === 0) throw invalid('cannot be applied: the organization already has a referrer')
  return { referrerOrganizationId: owner.organization_id }
}

/** Credits the referrer of an organization once, on its first purchase (idempotent by ledger key and row lock). */
export async function rewardReferrer(ctx: CommerceContext, em: Em, referredOrganizationId: string): Promise<void> {
  const ref = await one<{ referrer_organization_id: string; rewarded_at: unknown }>(em, 'select * from billing_referral where referred_organization_id = ? for update', [
    referredOrganizationId,
  ])
  if (!ref || ref.rewarded_at) return
  const reward = ctx.config.referrals.reward
  if (reward <= 0n) return
  const r = await ctx.ledger.post(
    {
      account: { organizationId: ref.referrer_organization_id },
      type: 'referral',
      amount: reward,
      idempotencyKey: `referral:${referredOrganizationId}`,
      description: 'Referral reward: a referred organization made its first purchase',
      reference: { kind: 'organization', id: referredOrganizationId },
      actor: { type: 'system', id: 'referrals' },
      metadata: { referredOrganizationId },
    },
    em,
  )
  await rows(em, 'update billing_referral set rewarded_entry_id = ?, rewarded_at = now() where referred_organization_id = ? returning code', [r.entry.id, referredOrganizationId])
  await ctx.host.events.emit(
    'billing.referralRewarded',
    { organizationId: ref.referrer_organization_id, referredOrganizationId, entryId: r.entry.id, amount: formatUsd(reward) },
    { organizationId: ref.referrer_organization_id, actor: { type: 'system', id: 'referrals' }, em },
  )
}
