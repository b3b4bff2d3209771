import { defineErrorCatalog } from '@tollgate/core'

/** The audit plugin's error codes (also listed in its README). */
export const AUDIT_ERRORS = defineErrorCatalog({
  TOLLGATE_ERR_AUDIT_CHECKPOINTS_DISABLED: {
    status: 409,
    openai: 'invalid_request_error',
    anthropic: 'invalid_request_error',
    description: 'No checkpoint signing key is configured (plugins.audit.checkpoints.privateKey), so no checkpoint can be signed.',
  },
  TOLLGATE_ERR_AUDIT_CHECKPOINT_INVALID: {
    status: 400,
    openai: 'invalid_request_error',
    anthropic: 'invalid_request_error',
    description: 'A checkpoint given for verification is malformed or its signature does not verify under any configured public key.',
  },
})

/** A code of the audit plugin's catalog. */
export type AuditErrorCode = keyof typeof AUDIT_ERRORS
