import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { WireProtocol } from '../canonical/types.js'
import { errorBodyFor } from '../errors/render.js'
import { TollgateError, isTollgateError } from '../errors/tollgate-error.js'
import { describeAjvErrors } from '../util/ajv.js'

/** Which error shape a route speaks: set as route config `protocol`. */
export type RouteProtocol = WireProtocol | 'management'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The error shape of the route (default: management). */
    protocol?: RouteProtocol
  }
}

/** Converts fastify's own errors (body too large, bad content type, schema validation) to catalog errors; a validation error names the field. */
export function fromFastifyError(err: FastifyError): TollgateError {
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

/** Sends an error in the route's protocol shape. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: TollgateError): FastifyReply {
  const protocol = request.routeOptions?.config?.protocol ?? 'management'
  if (error.headers) reply.headers(error.headers)
  return reply
    .code(error.status)
    .header('content-type', 'application/json; charset=utf-8')
    .header('x-request-id', request.id)
    .send(JSON.stringify(errorBodyFor(protocol, error, request.id)))
}

/** An error handler that renders every error through the catalog in the route's protocol shape; internal errors are logged. */
export function catalogErrorHandler(log?: Logger) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const error = fromFastifyError(err)
    if (error.code === 'TOLLGATE_ERR_SERVER_INTERNAL') (log ?? request.log).error({ err, reqId: request.id }, 'unhandled error')
    return sendError(request, reply, error)
  }
}

/** Installs the error and not-found handlers that render every error through the catalog. */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler(catalogErrorHandler(log))
  app.setNotFoundHandler((request, reply) => {
    const protocol: RouteProtocol = request.url.startsWith('/v1/messages') ? 'anthropic' : request.url.startsWith('/v1/chat') ? 'openai' : 'management'
    const error = new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)
    return reply.code(404).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(errorBodyFor(protocol, error, request.id)))
  })
}
