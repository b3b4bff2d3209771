import { CORE_ERRORS, type ErrorSpec } from './catalog.js'

const registry = new Map<string, ErrorSpec>(Object.entries(CORE_ERRORS))

/**
 * Adds a plugin's error catalog to the registry so its codes render like core's. Codes must be
 * `TOLLGATE_ERR_<AREA>_<WHAT>` and unique.
 */
export function defineErrorCatalog<const T extends Record<string, ErrorSpec>>(catalog: T): T {
  for (const [code, spec] of Object.entries(catalog)) {
    if (!/^TOLLGATE_ERR_[A-Z0-9]+_[A-Z0-9_]+$/.test(code)) throw new Error(`error code ${code} does not follow TOLLGATE_ERR_<AREA>_<WHAT>`)
    const known = registry.get(code)
    if (known && known !== spec) throw new Error(`error code ${code} is defined twice`)
    registry.set(code, spec)
  }
  return catalog
}

/** Looks up a code's spec (status, protocol error types). */
export function errorSpec(code: string): ErrorSpec {
  return registry.get(code) ?? CORE_ERRORS.TOLLGATE_ERR_SERVER_INTERNAL
}

/** Every registered code with its spec, for docs and tests. */
export function registeredErrorCodes(): ReadonlyMap<string, ErrorSpec> {
  return registry
}

/** Options of a TollgateError beyond code and message. */
export interface TollgateErrorOptions {
  /** The request field at fault ("messages[2].content"), shown to the client. */
  field?: string
  /** Seconds the client should wait before retrying (sent as Retry-After). */
  retryAfter?: number
  /** A status other than the catalog's, for pass-through of an upstream status. */
  status?: number
  cause?: unknown
  /** Extra headers to send with the error response. */
  headers?: Record<string, string>
}

/** An error with a stable code, an HTTP status and a client-safe message. */
export class TollgateError extends Error {
  readonly code: string
  readonly status: number
  readonly field?: string
  readonly retryAfter?: number
  readonly headers?: Record<string, string>

  constructor(code: string, message: string, options: TollgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TollgateError'
    this.code = code
    this.status = options.status ?? errorSpec(code).status
    this.field = options.field
    this.retryAfter = options.retryAfter
    this.headers = options.headers
  }
}

/** True when the value is a TollgateError (also across duplicated module copies). */
export function isTollgateError(value: unknown): value is TollgateError {
  return value instanceof TollgateError || (value instanceof Error && value.name === 'TollgateError' && typeof (value as TollgateError).code === 'string')
}

/** Wraps anything thrown into a TollgateError, keeping the original as the cause. */
export function toTollgateError(value: unknown, fallbackCode = 'TOLLGATE_ERR_SERVER_INTERNAL'): TollgateError {
  if (isTollgateError(value)) return value
  return new TollgateError(fallbackCode, fallbackCode === 'TOLLGATE_ERR_SERVER_INTERNAL' ? 'Internal error' : String((value as Error)?.message ?? value), { cause: value })
}
