import { defineErrorCatalog, TollgateError } from '@tollgate/core'

/** The analytics plugin's error codes (docs: the package README lists them). */
export const ANALYTICS_ERRORS = defineErrorCatalog({
  TOLLGATE_ERR_ANALYTICS_INVALID_QUERY: {
    status: 400,
    openai: 'invalid_request_error',
    anthropic: 'invalid_request_error',
    description: 'A query parameter of an analytics endpoint is missing, malformed or out of range; the message and `field` name it.',
  },
  TOLLGATE_ERR_ANALYTICS_UPGRADE_REQUIRED: {
    status: 403,
    openai: 'permission_error',
    anthropic: 'permission_error',
    description: 'The organization is not entitled to this analytics view (organization-wide and member analytics, windows over 30 days): upgrade its plan.',
  },
})

/** A 400 naming the query parameter at fault. */
export function invalidQuery(field: string, message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_ANALYTICS_INVALID_QUERY', `${field}: ${message}`, { field })
}

/** The upgrade error of a gated view. */
export function upgradeRequired(what: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_ANALYTICS_UPGRADE_REQUIRED', `${what} needs an Enterprise plan: upgrade this organization to use it`)
}

/** 404 for anything the caller may not know exists (another organization, another member's key). */
export function notFound(what = 'Not found'): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', what)
}

/** 403 for a caller who can see the organization but not this view. */
export function forbidden(message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', message)
}
