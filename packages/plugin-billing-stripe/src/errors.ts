import { defineErrorCatalog, type ErrorSpec } from '@tollgate/core'

function spec(status: number, openai: ErrorSpec['openai'], anthropic: ErrorSpec['anthropic'], description: string): ErrorSpec {
  return { status, openai, anthropic, description }
}

/**
 * Error codes of the ledger, metering and budget side of the billing plugin. Request-time
 * rejections render in the client's protocol; the message always names the budget or balance
 * that refused the request.
 */
export const BILLING_LEDGER_ERRORS = defineErrorCatalog({
  TOLLGATE_ERR_BILLING_INSUFFICIENT_BALANCE: spec(402, 'invalid_request_error', 'invalid_request_error', "The prepaid credit balance cannot cover the request's maximum cost; buy credits or lower max_tokens."),
  TOLLGATE_ERR_BILLING_BUDGET_EXCEEDED: spec(429, 'rate_limit_error', 'rate_limit_error', 'A spend cap (organization, member, default developer, project or API key) for the current period would be exceeded; Retry-After says when the period resets.'),
  TOLLGATE_ERR_BILLING_RESERVATION_UNAVAILABLE: spec(503, 'server_error', 'overloaded_error', 'The budget reservation could not be made (database unreachable); the request was refused rather than let through unmetered.'),
  TOLLGATE_ERR_BILLING_IDEMPOTENCY_CONFLICT: spec(409, 'invalid_request_error', 'invalid_request_error', 'The idempotency key was already used with a different payload.'),
  TOLLGATE_ERR_BILLING_ALREADY_REVERSED: spec(409, 'invalid_request_error', 'invalid_request_error', 'The ledger entry has already been reversed.'),
  TOLLGATE_ERR_BILLING_ENTRY_NOT_FOUND: spec(404, 'not_found_error', 'not_found_error', 'No such ledger entry.'),
  TOLLGATE_ERR_BILLING_INVALID_AMOUNT: spec(400, 'invalid_request_error', 'invalid_request_error', 'An amount is zero, malformed or out of range; the message names the field.'),
  TOLLGATE_ERR_BILLING_UNKNOWN_METER: spec(400, 'invalid_request_error', 'invalid_request_error', 'The meter has no configured unit price.'),
  TOLLGATE_ERR_BILLING_INVALID_TIMEZONE: spec(400, 'invalid_request_error', 'invalid_request_error', 'The timezone is not an IANA timezone name.'),
  TOLLGATE_ERR_BILLING_BUDGET_NOT_FOUND: spec(404, 'not_found_error', 'not_found_error', 'No such budget in this organization.'),
  TOLLGATE_ERR_BILLING_BUDGET_CONFLICT: spec(409, 'invalid_request_error', 'invalid_request_error', 'A budget with the same scope, subject and period already exists.'),
})

/** A code of the ledger side's catalog. */
export type BillingLedgerErrorCode = keyof typeof BILLING_LEDGER_ERRORS
