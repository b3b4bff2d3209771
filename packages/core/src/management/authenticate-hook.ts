import type { FastifyRequest } from 'fastify'
import type { Principal } from '../context/principal.js'
import { TollgateError } from '../errors/tollgate-error.js'
import { credentialFrom } from '../server/credentials.js'

/** The onRequest hook of the management scope: sets `request.principal` or answers 401. */
export function createAuthenticateHook(authenticate: (request: FastifyRequest) => Promise<Principal | undefined>) {
  return async function authenticateRequest(request: FastifyRequest): Promise<void> {
    const principal = request.principal ?? (await authenticate(request))
    if (principal) {
      request.principal = principal
      return
    }
    if (credentialFrom(request.headers)) throw new TollgateError('TOLLGATE_ERR_AUTH_INVALID_KEY', 'The API key is unknown, revoked or expired')
    throw new TollgateError('TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS', 'Send an API key as "Authorization: Bearer <key>"')
  }
}
