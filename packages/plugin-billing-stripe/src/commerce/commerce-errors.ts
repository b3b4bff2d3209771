import { defineErrorCatalog, type ErrorSpec } from '@tollgate/core'

function spec(status: number, openai: ErrorSpec['openai'], anthropic: ErrorSpec['anthropic'], description: string): ErrorSpec {
  return { status, openai, anthropic, description }
}

/** Error codes of the payments side of the billing plugin (plans, Stripe, invoices, discounts, referrals). */
export const COMMERCE_ERRORS = defineErrorCatalog({
  TOLLGATE_ERR_PAYMENT_NOT_CONFIGURED: spec(501, 'api_error', 'api_error', 'Payments need `stripe` in the billing plugin config (or `devMode`).'),
  TOLLGATE_ERR_PAYMENT_WEBHOOK_INVALID: spec(400, 'invalid_request_error', 'invalid_request_error', 'A Stripe webhook whose signature, timestamp or body does not verify.'),
  TOLLGATE_ERR_PAYMENT_PROVIDER_FAILED: spec(502, 'api_error', 'api_error', 'Stripe refused or failed a call; the message carries its reason.'),
  TOLLGATE_ERR_PAYMENT_DECLINED: spec(402, 'invalid_request_error', 'invalid_request_error', 'The saved payment method was declined; the failure is recorded.'),
  TOLLGATE_ERR_PAYMENT_NO_METHOD: spec(409, 'invalid_request_error', 'invalid_request_error', 'No saved payment method: buy credits once through Checkout or add one in the portal.'),
  TOLLGATE_ERR_PAYMENT_REFUND_INVALID: spec(409, 'invalid_request_error', 'invalid_request_error', 'The payment cannot be refunded by that amount (not paid, or more than remains).'),
  TOLLGATE_ERR_PLAN_LIMIT_EXCEEDED: spec(429, 'rate_limit_error', 'rate_limit_error', "The organization's plan limit for this month (tokens or requests) is used up."),
  TOLLGATE_ERR_PLAN_SEATS_EXHAUSTED: spec(409, 'invalid_request_error', 'invalid_request_error', "Every seat of the organization's plan is taken (members plus pending invitations)."),
  TOLLGATE_ERR_PLAN_CHANGE_FORBIDDEN: spec(403, 'permission_error', 'permission_error', 'That plan is assigned by a platform administrator (request it instead).'),
  TOLLGATE_ERR_DISCOUNT_UNAVAILABLE: spec(409, 'invalid_request_error', 'invalid_request_error', 'The discount code is unknown, expired, inactive, used up or already redeemed by this organization.'),
  TOLLGATE_ERR_REFERRAL_INVALID: spec(409, 'invalid_request_error', 'invalid_request_error', 'The referral code is unknown, your own, or the organization already has a referrer or a purchase.'),
})

/** A code of the payments catalog. */
export type CommerceErrorCode = keyof typeof COMMERCE_ERRORS
