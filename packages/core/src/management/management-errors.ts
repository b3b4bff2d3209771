import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { managementErrorBody } from '../errors/render.js'
import { TollgateError, isTollgateError } from '../errors/tollgate-error.js'
import { describeAjvErrors } from '../util/ajv.js'

/** Fastify's errors (validation, body parsing) as catalog errors; a validation error names the field. */
export function toManagementError(err: FastifyError): TollgateError {
  if (isTollgateError(err)) return err
  if (err.validation) {
    const { path, message } = describeAjvErrors(err.validation as never)
    const where = err.validationContext && err.validationContext !== 'body' ? ` (${err.validationContext})` : ''
    return new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${message}${where}`, { field: path })
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TollgateError('TOLLGATE_ERR_REQUEST_TOO_LARGE', 'The request body is larger than this gateway accepts')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new TollgateError('TOLLGATE_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE', 'Send the request body as application/json')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_JSON', 'The request body is not valid JSON')
  }
  if (err.statusCode === 404) return new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Not found')
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', err.message, { status: err.statusCode })
  return new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', 'Internal error', { cause: err })
}

/** The management scope's error handler: `{ error: { code, message, field? } }` with the catalog status. */
export function managementErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const error = toManagementError(err)
  if (error.code === 'TOLLGATE_ERR_SERVER_INTERNAL') request.log.error({ err }, 'management request failed')
  if (error.headers) reply.headers(error.headers)
  return reply
    .code(error.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(managementErrorBody(error, request.id)))
}
