import { TollgateError } from '../errors/tollgate-error.js'

/** 404: the resource does not exist or belongs to an organization the caller cannot see. */
export function notFound(what: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `${what} not found`)
}

/** 409: the change conflicts with existing data or state. */
export function conflict(message: string, field?: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_CONFLICT', message, { field })
}

/** 403: a role above the caller's own, or a change of the caller's own role. */
export function roleEscalation(message: string, field?: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_AUTH_ROLE_ESCALATION', message, { field })
}

/** 403: the caller's role is too low for the action. */
export function forbidden(message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', message)
}

/** 400: a field of the request is invalid. */
export function invalidField(field: string, message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${field} ${message}`, { field })
}
