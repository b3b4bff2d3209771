import type { CanonicalResponse, ResponseChunk } from '../canonical/types.js'
import type { RequestContext } from '../context/request-context.js'
import { TollgateError, isTollgateError } from '../errors/tollgate-error.js'
import type { HookRegistry } from '../plugin/hook-registry.js'
import type { UpstreamHead } from '../plugin/hooks.js'

/** What transforming hooks left: the value and whether any hook replaced it. */
export interface Transformed<T> {
  value: T
  modified: boolean
}

/**
 * Runs request hooks in registration order, stopping at the first throw. Hooks fail closed: a
 * TollgateError thrown by a hook is the plugin's deliberate rejection and goes to the client as
 * is; anything else becomes TOLLGATE_ERR_PLUGIN_HOOK_FAILED naming the plugin and hook.
 */
export class HookRunner {
  readonly #hooks: HookRegistry

  constructor(hooks: HookRegistry) {
    this.#hooks = hooks
  }

  #fail(ctx: RequestContext, pluginId: string, hook: string, err: unknown): TollgateError {
    if (isTollgateError(err)) return err
    ctx.log.error({ err, plugin: pluginId, hook }, 'plugin hook failed; rejecting the request')
    return new TollgateError('TOLLGATE_ERR_PLUGIN_HOOK_FAILED', `The request was rejected because plugin "${pluginId}" failed in ${hook}`, { cause: err })
  }

  #observe(pluginId: string, hook: string, started: number, failed: boolean, ctx: RequestContext): void {
    this.#hooks.observer?.(pluginId, hook as never, performance.now() - started, failed, ctx)
  }

  /** onAuthenticated or beforeUpstream: may rewrite ctx.request or reject. */
  async run(name: 'onAuthenticated' | 'beforeUpstream', ctx: RequestContext): Promise<void> {
    for (const h of this.#hooks.list(name)) {
      const started = performance.now()
      try {
        await h.fn(ctx)
        this.#observe(h.pluginId, name, started, false, ctx)
      } catch (err) {
        this.#observe(h.pluginId, name, started, true, ctx)
        throw this.#fail(ctx, h.pluginId, name, err)
      }
    }
  }

  /** onUpstreamResponse: may reject before anything reaches the client. */
  async upstreamResponse(ctx: RequestContext, head: UpstreamHead): Promise<void> {
    for (const h of this.#hooks.list('onUpstreamResponse')) {
      const started = performance.now()
      try {
        await h.fn(ctx, head)
        this.#observe(h.pluginId, 'onUpstreamResponse', started, false, ctx)
      } catch (err) {
        this.#observe(h.pluginId, 'onUpstreamResponse', started, true, ctx)
        throw this.#fail(ctx, h.pluginId, 'onUpstreamResponse', err)
      }
    }
  }

  /** onResponse: returns the (possibly replaced) response and whether any hook replaced it. */
  response(ctx: RequestContext, response: CanonicalResponse): Promise<Transformed<CanonicalResponse>> {
    return this.#transform('onResponse', ctx, response)
  }

  /**
   * onResponseChunk: returns the (possibly replaced) chunk and whether any hook replaced it. Not
   * an async wrapper of its own: this runs for every chunk of a stream.
   */
  chunk(ctx: RequestContext, chunk: ResponseChunk): Promise<Transformed<ResponseChunk>> {
    return this.#transform('onResponseChunk', ctx, chunk)
  }

  /** Runs transforming hooks in order, each on the previous one's result; a hook returning nothing keeps the value. */
  async #transform<T>(name: 'onResponse' | 'onResponseChunk', ctx: RequestContext, initial: T): Promise<Transformed<T>> {
    let value = initial
    let modified = false
    for (const h of this.#hooks.list(name)) {
      const started = performance.now()
      try {
        const next = await (h.fn as (ctx: RequestContext, value: T) => Promise<T | undefined>)(ctx, value)
        if (next) {
          value = next
          modified = true
        }
        this.#observe(h.pluginId, name, started, false, ctx)
      } catch (err) {
        this.#observe(h.pluginId, name, started, true, ctx)
        throw this.#fail(ctx, h.pluginId, name, err)
      }
    }
    return { value, modified }
  }

  /** onError, onAbort, onComplete: observers; a throw is logged and the rest still run. */
  async observe(name: 'onError' | 'onAbort' | 'onComplete', ctx: RequestContext, error?: TollgateError): Promise<void> {
    for (const h of this.#hooks.list(name)) {
      const started = performance.now()
      try {
        await (h.fn as (ctx: RequestContext, error?: TollgateError) => Promise<void>)(ctx, error)
        this.#observe(h.pluginId, name, started, false, ctx)
      } catch (err) {
        this.#observe(h.pluginId, name, started, true, ctx)
        ctx.log.error({ err, plugin: h.pluginId, hook: name }, 'plugin hook failed after the response')
      }
    }
  }

  /** True when a hook of that name is registered. */
  has(name: Parameters<HookRegistry['has']>[0]): boolean {
    return this.#hooks.has(name)
  }
}
