import { TollgateError } from '../errors/tollgate-error.js'
import { UpstreamError } from '../providers/provider.js'

/**
 * Maps a failed upstream attempt to the error the client gets. The provider's own message is
 * passed on for request errors (it is about the client's request) and hidden for credential
 * errors (it is about the gateway's keys, not the client's).
 */
export function mapUpstreamError(err: unknown, provider: string): TollgateError {
  if (!(err instanceof UpstreamError)) {
    return new TollgateError('TOLLGATE_ERR_UPSTREAM_ERROR', `Provider ${provider} failed`, { cause: err })
  }
  const detail = err.upstreamMessage ? `: ${err.upstreamMessage}` : ''
  switch (err.kind) {
    case 'timeout':
      return new TollgateError('TOLLGATE_ERR_UPSTREAM_TIMEOUT', `Provider ${provider} did not answer in time`, { cause: err })
    case 'connect':
      return new TollgateError('TOLLGATE_ERR_UPSTREAM_UNREACHABLE', `Provider ${provider} could not be reached`, { cause: err })
    case 'stream':
    case 'protocol':
      return new TollgateError('TOLLGATE_ERR_UPSTREAM_STREAM_ERROR', `Provider ${provider} failed during the response${detail}`, { cause: err })
    case 'http': {
      const status = err.status ?? 502
      const retry = err.retryAfter
      const headers = retry !== undefined ? { 'retry-after': String(Math.ceil(retry)) } : undefined
      if (status === 401 || status === 403) return new TollgateError('TOLLGATE_ERR_UPSTREAM_AUTH', `Provider ${provider} rejected the gateway's credentials`, { cause: err })
      if (status === 404) return new TollgateError('TOLLGATE_ERR_UPSTREAM_NOT_FOUND', `Provider ${provider} does not know this model or route${detail}`, { cause: err })
      if (status === 429) return new TollgateError('TOLLGATE_ERR_UPSTREAM_RATE_LIMITED', `Provider ${provider} is rate limiting requests${detail}`, { cause: err, retryAfter: retry, headers })
      if (status === 529 || err.upstreamType === 'overloaded_error') return new TollgateError('TOLLGATE_ERR_UPSTREAM_OVERLOADED', `Provider ${provider} is overloaded`, { cause: err, retryAfter: retry, headers })
      if (status >= 400 && status < 500) {
        return new TollgateError('TOLLGATE_ERR_UPSTREAM_BAD_REQUEST', `Provider ${provider} rejected the request${detail}`, { cause: err, status: status === 413 ? 413 : 400 })
      }
      return new TollgateError('TOLLGATE_ERR_UPSTREAM_ERROR', `Provider ${provider} answered with an error (${status})`, { cause: err, retryAfter: retry, headers })
    }
  }
}
