import { TollgateError } from '../errors/tollgate-error.js'
import { APP_HOOKS, type HookFn, type HookName, type HookObserver, REQUEST_HOOKS, type RegisteredHook } from './hooks.js'

const KNOWN = new Set<string>([...REQUEST_HOOKS, ...APP_HOOKS])

/** The hooks of one gateway, by name, in registration order. */
export class HookRegistry {
  readonly #hooks = new Map<HookName, RegisteredHook[]>()
  /** Called after every hook run (metrics, traces). */
  observer?: HookObserver

  /** Adds a hook; an unknown name or a non-function is an error naming the plugin. */
  add<N extends HookName>(pluginId: string, name: N, fn: HookFn<N>): void {
    if (!KNOWN.has(name)) {
      throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${pluginId}": unknown hook "${name}"; hooks are ${[...REQUEST_HOOKS, ...APP_HOOKS].join(', ')}`)
    }
    if (typeof fn !== 'function') throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${pluginId}": hook "${name}" is not a function`)
    const list = this.#hooks.get(name) ?? []
    list.push({ pluginId, name, fn } as RegisteredHook)
    this.#hooks.set(name, list)
  }

  /** The hooks registered under a name (empty array when none). */
  list<N extends HookName>(name: N): readonly RegisteredHook<N>[] {
    return (this.#hooks.get(name) ?? EMPTY) as RegisteredHook<N>[]
  }

  /** True when any plugin registered the hook (the pipeline skips work for hooks nobody uses). */
  has(name: HookName): boolean {
    return (this.#hooks.get(name)?.length ?? 0) > 0
  }
}

const EMPTY: RegisteredHook[] = []
