/** A typed key for a plugin's per-request state, so plugins never share ad-hoc properties. */
export interface StateKey<T> {
  readonly id: string
  readonly symbol: symbol
  /** Phantom field carrying the value type. */
  readonly __type?: T
}

/** Creates a typed per-request state key. `id` names it in logs ("billing.reservation"). */
export function createStateKey<T>(id: string): StateKey<T> {
  return { id, symbol: Symbol(id) }
}

/** Per-request plugin state, keyed by StateKey. */
export class PluginState {
  readonly #values = new Map<symbol, unknown>()

  /** The value under the key, or undefined. */
  get<T>(key: StateKey<T>): T | undefined {
    return this.#values.get(key.symbol) as T | undefined
  }

  /** Stores a value under the key. */
  set<T>(key: StateKey<T>, value: T): void {
    this.#values.set(key.symbol, value)
  }

  /** True when a value is stored under the key. */
  has(key: StateKey<unknown>): boolean {
    return this.#values.has(key.symbol)
  }
}
