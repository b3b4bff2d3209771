/**
 * The one catalog of Tollgate's stable error codes. Each code has an HTTP status and the error
 * type it maps to in the OpenAI and Anthropic error shapes. docs/errors.md lists them; a test
 * fails when the two disagree.
 */

/** OpenAI-style error `type` values. */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'server_error'

/** Anthropic-style error `type` values. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error'

/** One catalog entry. */
export interface ErrorSpec {
  status: number
  openai: OpenAIErrorType
  anthropic: AnthropicErrorType
  description: string
}

function spec(status: number, openai: OpenAIErrorType, anthropic: AnthropicErrorType, description: string): ErrorSpec {
  return { status, openai, anthropic, description }
}

/** Every error code core can raise. Plugins add their own catalogs with `defineErrorCatalog`. */
export const CORE_ERRORS = {
  TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS: spec(401, 'authentication_error', 'authentication_error', 'No API key or session was sent.'),
  TOLLGATE_ERR_AUTH_INVALID_KEY: spec(401, 'authentication_error', 'authentication_error', 'The API key is unknown, revoked or expired.'),
  TOLLGATE_ERR_AUTH_FORBIDDEN: spec(403, 'permission_error', 'permission_error', 'The principal lacks the role this action needs.'),
  TOLLGATE_ERR_AUTH_ROLE_ESCALATION: spec(403, 'permission_error', 'permission_error', 'A role above your own cannot be granted, and your own role cannot be changed by you.'),
  TOLLGATE_ERR_REQUEST_INVALID_BODY: spec(400, 'invalid_request_error', 'invalid_request_error', 'The request body does not match the endpoint schema; the message names the field.'),
  TOLLGATE_ERR_REQUEST_INVALID_JSON: spec(400, 'invalid_request_error', 'invalid_request_error', 'The request body is not valid JSON.'),
  TOLLGATE_ERR_REQUEST_TOO_LARGE: spec(413, 'invalid_request_error', 'request_too_large', 'The request body exceeds the configured size limit.'),
  TOLLGATE_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE: spec(415, 'invalid_request_error', 'invalid_request_error', 'The request body is not application/json.'),
  TOLLGATE_ERR_REQUEST_NOT_FOUND: spec(404, 'not_found_error', 'not_found_error', 'No such route or resource (also answered for another organization\'s resource).'),
  TOLLGATE_ERR_REQUEST_CONFLICT: spec(409, 'invalid_request_error', 'invalid_request_error', 'The resource already exists or the change conflicts with its state.'),
  TOLLGATE_ERR_REQUEST_UNSUPPORTED: spec(400, 'invalid_request_error', 'invalid_request_error', 'The request uses a feature the chosen provider cannot serve.'),
  TOLLGATE_ERR_MODEL_NOT_FOUND: spec(404, 'not_found_error', 'not_found_error', 'The model is not in the catalog.'),
  TOLLGATE_ERR_MODEL_UNAVAILABLE: spec(503, 'server_error', 'overloaded_error', 'The model is in the catalog but disabled or has no usable deployment.'),
  TOLLGATE_ERR_ROUTING_COMPLIANCE: spec(403, 'permission_error', 'permission_error', 'No deployment of the model meets the compliance policy of the organization or project; the message names the missing attributes.'),
  TOLLGATE_ERR_ROUTING_NO_DEPLOYMENT: spec(503, 'server_error', 'api_error', 'The routing policy (allowed or blocked providers, region pinning) leaves no deployment for the model.'),
  TOLLGATE_ERR_ROUTING_COST_CEILING: spec(400, 'invalid_request_error', 'invalid_request_error', 'The request could cost more than the per-request cost ceiling on every deployment; lower max_tokens.'),
  TOLLGATE_ERR_ROUTING_CIRCUIT_OPEN: spec(503, 'server_error', 'overloaded_error', 'Every usable deployment of the model is failing (circuit open); Retry-After says when to try again.'),
  TOLLGATE_ERR_RATELIMIT_PROJECT: spec(429, 'rate_limit_error', 'rate_limit_error', 'The project is over its requests or tokens per minute; Retry-After says when the window ends.'),
  TOLLGATE_ERR_RATELIMIT_API_KEY: spec(429, 'rate_limit_error', 'rate_limit_error', 'The API key is over its requests or tokens per minute; Retry-After says when the window ends.'),
  TOLLGATE_ERR_RATELIMIT_PROVIDER: spec(429, 'rate_limit_error', 'rate_limit_error', 'Every deployment of the model is at its provider or deployment limit; Retry-After says when the window ends.'),
  TOLLGATE_ERR_UPSTREAM_BAD_REQUEST: spec(400, 'invalid_request_error', 'invalid_request_error', 'The provider rejected the request as invalid.'),
  TOLLGATE_ERR_UPSTREAM_AUTH: spec(502, 'api_error', 'api_error', 'The provider rejected the gateway\'s provider credentials.'),
  TOLLGATE_ERR_UPSTREAM_NOT_FOUND: spec(404, 'not_found_error', 'not_found_error', 'The provider does not know the model or route.'),
  TOLLGATE_ERR_UPSTREAM_RATE_LIMITED: spec(429, 'rate_limit_error', 'rate_limit_error', 'The provider is rate limiting; Retry-After is passed on.'),
  TOLLGATE_ERR_UPSTREAM_ERROR: spec(502, 'api_error', 'api_error', 'The provider answered with a server error.'),
  TOLLGATE_ERR_UPSTREAM_OVERLOADED: spec(529, 'server_error', 'overloaded_error', 'The provider reports it is overloaded.'),
  TOLLGATE_ERR_UPSTREAM_TIMEOUT: spec(504, 'api_error', 'api_error', 'The provider did not answer within the configured timeout.'),
  TOLLGATE_ERR_UPSTREAM_UNREACHABLE: spec(502, 'api_error', 'api_error', 'The provider could not be reached.'),
  TOLLGATE_ERR_UPSTREAM_STREAM_ERROR: spec(502, 'api_error', 'api_error', 'The provider sent an error or broke off in the middle of a stream.'),
  TOLLGATE_ERR_PLUGIN_HOOK_FAILED: spec(500, 'server_error', 'api_error', 'A plugin hook threw; the request was rejected (hooks fail closed).'),
  TOLLGATE_ERR_PLUGIN_CONFIG_INVALID: spec(500, 'server_error', 'api_error', 'A plugin configuration does not match its schema (startup).'),
  TOLLGATE_ERR_PLUGIN_DEPENDENCY_MISSING: spec(500, 'server_error', 'api_error', 'A plugin depends on a plugin that is not registered (startup).'),
  TOLLGATE_ERR_PLUGIN_INVALID: spec(500, 'server_error', 'api_error', 'A plugin definition is malformed: bad id, unknown hook, duplicate (startup).'),
  TOLLGATE_ERR_CONFIG_INVALID: spec(500, 'server_error', 'api_error', 'The gateway configuration does not match its schema (startup).'),
  TOLLGATE_ERR_SERVER_SHUTTING_DOWN: spec(503, 'server_error', 'overloaded_error', 'The instance is draining and accepts no new requests.'),
  TOLLGATE_ERR_SERVER_INTERNAL: spec(500, 'server_error', 'api_error', 'An unexpected error; the log has the details under the request id.'),
} as const satisfies Record<string, ErrorSpec>

/** A code of core's catalog. */
export type CoreErrorCode = keyof typeof CORE_ERRORS
