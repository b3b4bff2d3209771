import type { Cancellation } from '../util/cancellation.js'
import type { Dispatcher } from 'undici'
import type { CanonicalRequest, CanonicalResponse, ResponseChunk, WireProtocol } from '../canonical/types.js'
import type { RequestContext } from '../context/request-context.js'
import type { ComplianceAttribute, RateLimits } from '../routing/routing-types.js'

/** A configured upstream provider (from the gateway config). */
export interface ProviderConfig {
  /** Id used in the model catalog ("openai", "azure-eu", "mock"). */
  id: string
  /** Adapter: "openai" (and any OpenAI-compatible base URL), "anthropic", or "mock". */
  kind: 'openai' | 'anthropic' | 'mock'
  /** Base URL including the version path, e.g. https://api.openai.com/v1 or https://api.anthropic.com/v1. */
  baseUrl?: string
  /** The gateway's key for this provider (projects may bring their own). */
  apiKey?: string
  /** Extra headers sent upstream (for example anthropic-version, OpenAI-Organization). */
  headers?: Record<string, string>
  /** Timeouts in ms. */
  timeouts?: { connectMs?: number; headersMs?: number; bodyIdleMs?: number }
  /** Keep-alive connections per origin. */
  connections?: number
  /** False takes the provider out of routing (default true). */
  enabled?: boolean
  /** Compliance attributes: "soc2", "iso27001", "gdpr", "noTraining", "noPromptLogging". */
  attributes?: ComplianceAttribute[]
  /** Region its endpoint serves from ("eu", "us-east-1"). */
  region?: string
  /** Requests and tokens per minute across every deployment of the provider (all instances together). */
  limits?: RateLimits
}

/** What a provider adapter is asked to do for one attempt. */
export interface UpstreamCall {
  ctx: RequestContext
  request: CanonicalRequest
  /** The model name to send upstream. */
  upstreamModel: string
  /** The key to use (the project's own key or the provider's). */
  apiKey?: string
  /** Headers the client sent that should pass through (for example anthropic-version, anthropic-beta). */
  passHeaders: Record<string, string>
  /** Aborted when the client goes away or the attempt times out. */
  signal: AbortSignal
  /**
   * The same abort as `signal`, as the pipeline's cheaper Cancellation (set by the gateway's
   * attempts; `signal` is then made on first read). Adapters may ignore it.
   */
  cancellation?: Cancellation
}

/** A successful upstream answer: the whole response, or a stream of decoded chunks. */
export type UpstreamResult =
  | {
      kind: 'json'
      status: number
      headers: Record<string, string | string[] | undefined>
      response: CanonicalResponse
      /** The upstream body and its protocol, for pass-through when the client speaks it and nothing changed. */
      raw?: { protocol: WireProtocol; body: string }
    }
  | {
      kind: 'stream'
      status: number
      headers: Record<string, string | string[] | undefined>
      /** The protocol the chunks' raw bytes are in. */
      protocol: WireProtocol
      /** Decoded chunks as they arrive; throws UpstreamError on an error event or a cut. */
      chunks: AsyncIterable<ResponseChunk>
      /**
       * The same chunks grouped per upstream network read, when the adapter can: the pipeline
       * then handles a read's chunks without an async step per chunk. Consume either this or
       * `chunks`, not both (they read the same body).
       */
      batches?: AsyncIterable<ResponseChunk[]>
      /** Closes the upstream body (client gone). */
      cancel(): void
    }

/** Why an upstream attempt failed. */
export type UpstreamErrorKind = 'connect' | 'timeout' | 'http' | 'stream' | 'protocol'

/** An upstream failure with what the router and the error mapping need. */
export class UpstreamError extends Error {
  readonly kind: UpstreamErrorKind
  readonly status?: number
  /** Seconds, from Retry-After. */
  readonly retryAfter?: number
  /** The provider's error message (never shown to the client verbatim for auth errors). */
  readonly upstreamMessage?: string
  readonly upstreamType?: string

  constructor(kind: UpstreamErrorKind, message: string, options: { status?: number; retryAfter?: number; upstreamMessage?: string; upstreamType?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UpstreamError'
    this.kind = kind
    this.status = options.status
    this.retryAfter = options.retryAfter
    this.upstreamMessage = options.upstreamMessage
    this.upstreamType = options.upstreamType
  }
}

/** A provider adapter: encodes the canonical request for its API and decodes the answer. */
export interface ProviderAdapter {
  readonly config: ProviderConfig
  /** The protocol the upstream speaks ("mock" answers in OpenAI's). */
  readonly protocol: WireProtocol
  call(call: UpstreamCall): Promise<UpstreamResult>
  /** Closes pooled connections. */
  close(): Promise<void>
}

/** Builds an adapter from its config; `dispatcher` lets tests and hosts supply their own undici agent. */
export type ProviderFactory = (config: ProviderConfig, options: { dispatcher?: Dispatcher }) => ProviderAdapter
