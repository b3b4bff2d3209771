import type { Dispatcher } from 'undici'
import { anthropicProviderFactory } from './anthropic-provider.js'
import { mockProviderFactory } from './mock-provider.js'
import { openAIProviderFactory } from './openai-provider.js'
import type { ProviderAdapter, ProviderConfig, ProviderFactory } from './provider.js'

/** The adapters core ships, by provider kind. */
export const BUILTIN_PROVIDER_FACTORIES: Readonly<Record<string, ProviderFactory>> = {
  openai: openAIProviderFactory,
  anthropic: anthropicProviderFactory,
  mock: mockProviderFactory,
}

/**
 * The configured upstream providers, built once at startup. A provider with id `mock` (kind
 * `mock`) is always present unless the configuration defines its own `mock`. `factories` adds or
 * replaces adapters by kind; `dispatcher` gives every adapter the same undici dispatcher (tests,
 * proxies) instead of one keep-alive pool each.
 */
export class ProviderRegistry {
  readonly #adapters = new Map<string, ProviderAdapter>()
  /** Adapters built for configurations edited at run time or deployment base URLs, by their connection settings. */
  readonly #derived = new Map<string, ProviderAdapter>()
  readonly #factories: Record<string, ProviderFactory>
  readonly #dispatcher?: Dispatcher

  constructor(configs: ProviderConfig[], options: { dispatcher?: Dispatcher; factories?: Record<string, ProviderFactory> } = {}) {
    const factories = { ...BUILTIN_PROVIDER_FACTORIES, ...options.factories }
    this.#factories = factories
    this.#dispatcher = options.dispatcher
    const all = configs.some((c) => c.id === 'mock') ? configs : [...configs, { id: 'mock', kind: 'mock' as const }]
    for (const config of all) {
      if (this.#adapters.has(config.id)) throw new Error(`provider id "${config.id}" is configured twice`)
      const factory = factories[config.kind]
      if (!factory) throw new Error(`provider "${config.id}" has unknown kind "${config.kind}" (known: ${Object.keys(factories).join(', ')})`)
      this.#adapters.set(config.id, factory(config, { dispatcher: options.dispatcher }))
    }
  }

  /** The adapter of a provider id. */
  get(id: string): ProviderAdapter | undefined {
    return this.#adapters.get(id)
  }

  /**
   * The adapter for a provider configuration that may differ from the startup one (a provider
   * added or edited through the management API, a deployment with its own base URL): the
   * configured adapter when the connection settings are the same, else one built once per
   * distinct setting and kept until close. The API key is not part of it (it is sent per call).
   */
  adapterFor(config: ProviderConfig): ProviderAdapter {
    const key = connectionKey(config)
    const configured = this.#adapters.get(config.id)
    if (configured && connectionKey(configured.config) === key) return configured
    let adapter = this.#derived.get(key)
    if (!adapter) {
      const factory = this.#factories[config.kind]
      if (!factory) throw new Error(`provider "${config.id}" has unknown kind "${config.kind}" (known: ${Object.keys(this.#factories).join(', ')})`)
      adapter = factory({ ...config, apiKey: undefined }, { dispatcher: this.#dispatcher })
      this.#derived.set(key, adapter)
    }
    return adapter
  }

  /** Every adapter, in configuration order (the built-in mock last). */
  list(): ProviderAdapter[] {
    return [...this.#adapters.values()]
  }

  /** Closes every adapter's pooled connections. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#adapters.values(), ...this.#derived.values()].map((a) => a.close()))
  }
}

/** What makes two adapters interchangeable: everything but the key. */
function connectionKey(c: ProviderConfig): string {
  return JSON.stringify([c.id, c.kind, c.baseUrl ?? '', c.headers ?? {}, c.timeouts ?? {}, c.connections ?? 0])
}
