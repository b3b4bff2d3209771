import type { RequestContext } from '../context/request-context.js'

/**
 * Label values from bounded sets only. A label that could take any value a client sends would
 * let one client create unbounded series in every Prometheus that scrapes the gateway.
 */

/** The label value of every model beyond the bound, and of models the catalog does not know. */
export const OTHER = 'other'
/** The label value when there is nothing to name (a request refused before it named a model or provider). */
export const NONE = 'none'

/** Folds model names into at most `max` distinct label values; the rest become `other`. */
export class ModelLabels {
  readonly #seen = new Set<string>()
  readonly #max: number
  readonly #known: (model: string) => boolean

  /** `known` says whether a name is a catalog model (unknown names are never labels). */
  constructor(max: number, known: (model: string) => boolean) {
    this.#max = max
    this.#known = known
  }

  /** The label for a request's model. */
  of(ctx: RequestContext): string {
    const name = ctx.route?.model ?? ctx.request?.model
    if (typeof name !== 'string') return NONE
    if (this.#seen.has(name)) return name
    if (!this.#known(name) || this.#seen.size >= this.#max) return OTHER
    this.#seen.add(name)
    return name
  }
}

/** API route label of a client protocol (the endpoint the client called). */
export function routeLabel(protocol: string): string {
  return protocol === 'anthropic' ? '/v1/messages' : protocol === 'openai' ? '/v1/chat/completions' : OTHER
}

const UPSTREAM_KINDS: Record<string, string> = {
  TOLLGATE_ERR_UPSTREAM_TIMEOUT: 'timeout',
  TOLLGATE_ERR_UPSTREAM_UNREACHABLE: 'unreachable',
  TOLLGATE_ERR_UPSTREAM_RATE_LIMITED: 'rate_limited',
  TOLLGATE_ERR_UPSTREAM_ERROR: 'server_error',
  TOLLGATE_ERR_UPSTREAM_OVERLOADED: 'overloaded',
  TOLLGATE_ERR_UPSTREAM_AUTH: 'auth',
  TOLLGATE_ERR_UPSTREAM_BAD_REQUEST: 'bad_request',
  TOLLGATE_ERR_UPSTREAM_NOT_FOUND: 'not_found',
  TOLLGATE_ERR_UPSTREAM_STREAM_ERROR: 'stream_error',
}

/** True for the codes of upstream failures (as opposed to the gateway's own refusals). */
export function isUpstreamCode(code: string): boolean {
  return code.startsWith('TOLLGATE_ERR_UPSTREAM_')
}

/** The `kind` label of an upstream failure code. */
export function upstreamErrorKind(code: string): string {
  return UPSTREAM_KINDS[code] ?? OTHER
}

/** Error codes are a closed set defined in code (core's catalog and the plugins'), so they are safe labels; anything else folds. */
export function codeLabel(code: string): string {
  return /^TOLLGATE_ERR_[A-Z0-9_]{1,60}$/.test(code) ? code : OTHER
}

/** `2xx`, `4xx`, … */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : OTHER
}
