import type { Logger } from 'pino'
import type { CanonicalRequest, CanonicalResponse, Usage, WireProtocol } from '../canonical/types.js'
import type { TollgateError } from '../errors/tollgate-error.js'
import type { Picodollars } from '../util/money.js'
import type { PluginState } from './plugin-state.js'
import type { Principal } from './principal.js'

/** The deployment chosen to serve a request. */
export interface RouteChoice {
  /** Catalog model name the client asked for. */
  model: string
  /** Provider id from the configuration ("openai", "anthropic", "mock", …). */
  provider: string
  /** Provider kind (the adapter): "openai" | "anthropic" | "mock". */
  providerKind: string
  /** Model name sent upstream. */
  upstreamModel: string
  /** 1 for the first attempt. */
  attempt: number
  /** True when the project's own provider key is used. */
  ownKey: boolean
  /** Deployment id (`<model>@default` for a model without configured deployments). */
  deployment?: string
  /** Region of the deployment, when known. */
  region?: string
}

/** Exact cost of a request, in picodollars. */
export interface Cost {
  /** What the request costs at your price. */
  cost: Picodollars
  /** What it would cost at the market rate (savings = market − cost). */
  marketCost: Picodollars
}

/** Monotonic timestamps of a request (ms since the request arrived, from performance.now()). */
export interface Timings {
  /** performance.now() when the request arrived. */
  start: number
  upstreamStart?: number
  /** Upstream response headers received. */
  upstreamHeaders?: number
  /** First byte of the answer sent to the client. */
  firstByte?: number
  end?: number
}

/** How a request ended. */
export type RequestOutcome = 'success' | 'rejected' | 'upstream_error' | 'aborted' | 'error'

/** A failed upstream attempt, kept for the usage event. */
export interface FailedAttempt {
  provider: string
  model: string
  status?: number
  code: string
  /** Deployment id of the attempt. */
  deployment?: string
  /** How long the attempt took, ms. */
  latencyMs?: number
}

/** The per-request context every request hook receives. */
export interface RequestContext {
  /** Request id (also sent as x-request-id). */
  readonly id: string
  /** pino child logger bound to the request id. */
  readonly log: Logger
  /** The protocol the client speaks. */
  readonly protocol: WireProtocol
  /** Set from onAuthenticated on. */
  principal: Principal
  /** The canonical request; hooks before the upstream call may rewrite it. */
  request: CanonicalRequest
  /**
   * Set from beforeUpstream on: the first choice of the router. During fallback it names the
   * attempt in progress; in the end, the attempt that answered (or the last one that failed).
   */
  route?: RouteChoice
  /** Failed attempts before the one that answered. */
  failedAttempts: FailedAttempt[]
  /** The non-streamed response, once received. */
  response?: CanonicalResponse
  /** Upstream HTTP status of the attempt that answered. */
  upstreamStatus?: number
  /** Final usage: reported by the upstream, or estimated. */
  usage?: Usage
  /** Exact cost from usage and the catalog prices. */
  cost?: Cost
  readonly timings: Timings
  readonly client: { ip: string; userAgent?: string; appName?: string }
  /** The client's request headers (credentials included: never log them unredacted). */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>
  /** Typed per-plugin state. */
  readonly state: PluginState
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal
  outcome?: RequestOutcome
  /** HTTP status sent to the client. */
  status?: number
  error?: TollgateError
}
