import 'reflect-metadata'
import { type DependencyContainer, container as rootContainer } from 'tsyringe'

/**
 * A typed reference to a shared service: a tsyringe injection token (a Symbol) with the service's
 * type attached. Plugins provide and consume services through refs, never through decorator
 * metadata (TypeScript 7 and esbuild-based loaders do not emit it).
 */
export interface ServiceRef<T> {
  readonly id: string
  readonly token: symbol
  readonly __type?: T
}

/** Creates a service ref; `id` is `<pluginId>.<service>` by convention ("billing.ledger"). */
export function createServiceRef<T>(id: string): ServiceRef<T> {
  return { id, token: Symbol.for(`tollgate.service:${id}`) }
}

/**
 * An extension point: a list that other plugins add to (guardrail rules, audit sinks, …). The
 * owning plugin reads `values()` when it needs them.
 */
export interface ExtensionPoint<T> {
  readonly id: string
  readonly token: symbol
  readonly __type?: T
}

/** Creates an extension point ref ("guardrails.rules"). */
export function createExtensionPoint<T>(id: string): ExtensionPoint<T> {
  return { id, token: Symbol.for(`tollgate.extension:${id}`) }
}

/** The service registry of one gateway: a tsyringe child container. */
export class ServiceRegistry {
  readonly container: DependencyContainer
  readonly #providers = new Map<symbol, string>()
  readonly #extensions = new Map<symbol, unknown[]>()

  constructor(parent: DependencyContainer = rootContainer) {
    this.container = parent.createChildContainer()
  }

  /** Registers a service instance or a factory (called once, lazily). A second provider of the same ref is an error. */
  provide<T>(ref: ServiceRef<T>, value: T | { factory: (c: DependencyContainer) => T }, providerId = 'core'): void {
    const owner = this.#providers.get(ref.token)
    if (owner) throw new Error(`service ${ref.id} is already provided by ${owner}`)
    this.#providers.set(ref.token, providerId)
    if (value && typeof value === 'object' && 'factory' in (value as object) && typeof (value as { factory: unknown }).factory === 'function') {
      const factory = (value as { factory: (c: DependencyContainer) => T }).factory
      let instance: T | undefined
      let made = false
      this.container.register(ref.token, {
        useFactory: (c) => {
          if (!made) {
            instance = factory(c)
            made = true
          }
          return instance as T
        },
      })
    } else {
      this.container.register(ref.token, { useValue: value as T })
    }
  }

  /** Resolves a service; throws naming the ref when nothing provides it. */
  get<T>(ref: ServiceRef<T>): T {
    if (!this.#providers.has(ref.token)) throw new Error(`service ${ref.id} is not provided (is the plugin that provides it registered?)`)
    return this.container.resolve<T>(ref.token)
  }

  /** Resolves a service or undefined when nothing provides it. */
  find<T>(ref: ServiceRef<T>): T | undefined {
    return this.#providers.has(ref.token) ? this.container.resolve<T>(ref.token) : undefined
  }

  /** Adds a value to an extension point. */
  extend<T>(point: ExtensionPoint<T>, value: T): void {
    const list = this.#extensions.get(point.token) ?? []
    list.push(value)
    this.#extensions.set(point.token, list)
  }

  /** Everything added to an extension point, in registration order. */
  extensions<T>(point: ExtensionPoint<T>): readonly T[] {
    return (this.#extensions.get(point.token) ?? []) as T[]
  }
}
