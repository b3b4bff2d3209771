import { defineErrorCatalog } from '@tollgate/core'

/** The guardrails plugin's error codes (docs: the package README lists them; a test checks they agree). */
export const GUARDRAILS_ERRORS = defineErrorCatalog({
  TOLLGATE_ERR_GUARDRAILS_BLOCKED: {
    status: 400,
    openai: 'invalid_request_error',
    anthropic: 'invalid_request_error',
    description: 'A guardrail rule with the block action matched the prompt or the answer; the message names the rule, never the matched content.',
  },
  TOLLGATE_ERR_GUARDRAILS_INVALID_POLICY: {
    status: 400,
    openai: 'invalid_request_error',
    anthropic: 'invalid_request_error',
    description: 'A guardrail policy names an unknown rule or is otherwise invalid; the message names the field.',
  },
  TOLLGATE_ERR_GUARDRAILS_INVALID_PATTERN: {
    status: 400,
    openai: 'invalid_request_error',
    anthropic: 'invalid_request_error',
    description: 'A custom regex was refused at save time (it does not compile on the linear-time engine, or matches the empty string).',
  },
})
