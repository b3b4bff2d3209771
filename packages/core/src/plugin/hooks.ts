import type { CanonicalResponse, ResponseChunk } from '../canonical/types.js'
import type { RequestContext } from '../context/request-context.js'
import type { TollgateError } from '../errors/tollgate-error.js'

/**
 * The closed list of request hooks, in the order they run for one request:
 *
 * onAuthenticated → beforeUpstream → onUpstreamResponse → (onResponseChunk … | onResponse) → onComplete
 *
 * plus onError (the request failed) and onAbort (the client went away), each followed by onComplete.
 * A name outside this list is a startup error.
 */
export const REQUEST_HOOKS = [
  'onAuthenticated',
  'beforeUpstream',
  'onUpstreamResponse',
  'onResponseChunk',
  'onResponse',
  'onComplete',
  'onError',
  'onAbort',
] as const

/** App lifecycle hooks: onReady after startup, onClose during shutdown (reverse registration order). */
export const APP_HOOKS = ['onReady', 'onClose'] as const

/** Upstream response head, as seen by onUpstreamResponse. */
export interface UpstreamHead {
  status: number
  headers: Record<string, string | string[] | undefined>
  streaming: boolean
}

/** Signatures of the request hooks. Every hook is async. */
export interface RequestHookMap {
  /**
   * After the API key is verified and the body decoded; before: nothing; after: beforeUpstream.
   * May reject (throw a TollgateError) or rewrite `ctx.request`.
   */
  onAuthenticated: (ctx: RequestContext) => Promise<void>
  /**
   * After the route is chosen, before the upstream call; before: onAuthenticated; after:
   * onUpstreamResponse. Guardrail scans and budget reservations go here. May reject or rewrite
   * `ctx.request`. Runs once per request, not per retry.
   */
  beforeUpstream: (ctx: RequestContext) => Promise<void>
  /**
   * When the upstream answered with a success status, before any byte reaches the client;
   * before: beforeUpstream; after: onResponseChunk (stream) or onResponse. May reject.
   */
  onUpstreamResponse: (ctx: RequestContext, head: UpstreamHead) => Promise<void>
  /**
   * For each decoded upstream stream chunk, before it is sent; before: onUpstreamResponse;
   * after: onComplete. May return a replacement chunk (transform, hold back, redact). A throw
   * ends the stream with an error event in the client's protocol.
   */
  onResponseChunk: (ctx: RequestContext, chunk: ResponseChunk) => Promise<ResponseChunk | void>
  /**
   * With the whole non-streamed response, before it is sent; before: onUpstreamResponse; after:
   * onComplete. May return a replacement response or reject.
   */
  onResponse: (ctx: RequestContext, response: CanonicalResponse) => Promise<CanonicalResponse | void>
  /**
   * After the response is finished, for every request (success, rejection, upstream error,
   * abort), with final usage and cost; before: onResponse/onResponseChunk/onError/onAbort;
   * after: nothing. Never delays the client; a throw is logged.
   */
  onComplete: (ctx: RequestContext) => Promise<void>
  /** When the request fails with an error sent to the client; before: any; after: onComplete. Observes only. */
  onError: (ctx: RequestContext, error: TollgateError) => Promise<void>
  /** When the client disconnects before the response ended; before: any; after: onComplete. Observes only. */
  onAbort: (ctx: RequestContext) => Promise<void>
}

/** A request hook name. */
export type RequestHookName = (typeof REQUEST_HOOKS)[number]

/** An app hook name. */
export type AppHookName = (typeof APP_HOOKS)[number]

/** Signatures of the app hooks. */
export interface AppHookMap {
  onReady: () => Promise<void>
  onClose: () => Promise<void>
}

/** Any hook name. */
export type HookName = RequestHookName | AppHookName

/** The signature of a hook by name. */
export type HookFn<N extends HookName> = N extends RequestHookName ? RequestHookMap[N] : N extends AppHookName ? AppHookMap[N] : never

/** A registered hook with the plugin that owns it. */
export interface RegisteredHook<N extends HookName = HookName> {
  pluginId: string
  name: N
  fn: HookFn<N>
}

/** Observes every hook run, for metrics and traces; `ctx` is the request's for request hooks. */
export type HookObserver = (pluginId: string, hook: HookName, durationMs: number, failed: boolean, ctx?: RequestContext) => void

export type { TollgateError }
