import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Database } from '../data/database.js'
import type { EventBus } from '../events/event-bus.js'
import type { MetricsRegistry } from '../metrics/metrics-registry.js'
import type { UsageEventReader } from '../usage/usage-reader.js'
import type { WorkerDefinition } from '../workers/worker-runner.js'
import type { AppHookName, HookFn, RequestHookName } from './hooks.js'
import type { ExtensionPoint, ServiceRef } from './services.js'

/** Options of a plugin's route scope. */
export interface RouteScopeOptions {
  /**
   * Authentication of the scope's routes. 'required' (the default): every route needs an API key
   * or a session, and `request.principal` is set. 'none': the plugin authenticates itself (SCIM
   * bearer tokens, webhooks, IdP callbacks).
   */
  auth?: 'required' | 'none'
}

/** What a plugin's `register` receives: everything it may touch, scoped to the plugin. */
export interface PluginHost {
  /** The plugin's id. */
  readonly pluginId: string
  /** pino child logger with `plugin: <id>`. */
  readonly log: Logger
  /** Request and app hooks: a closed list; an unknown name throws at registration. */
  readonly hooks: {
    add<N extends RequestHookName | AppHookName>(name: N, fn: HookFn<N>): void
  }
  /**
   * Mounts routes under `prefix` in the plugin's own fastify scope (encapsulated: its decorators
   * and hooks stay inside), authenticated by default.
   */
  routes(prefix: string, register: (app: FastifyInstance) => void | Promise<void>, options?: RouteScopeOptions): void
  /** Shared services and extension points (tsyringe tokens). */
  readonly services: {
    provide<T>(ref: ServiceRef<T>, value: T | { factory: () => T }): void
    get<T>(ref: ServiceRef<T>): T
    find<T>(ref: ServiceRef<T>): T | undefined
    extend<T>(point: ExtensionPoint<T>, value: T): void
    extensions<T>(point: ExtensionPoint<T>): readonly T[]
  }
  /** The typed domain event bus; subscriptions are tagged with the plugin id. */
  readonly events: {
    on: EventBus['on']
    /** Subscribes to every event (filterable by name); see EventBus.onAny. */
    onAny: EventBus['onAny']
    emit: EventBus['emit']
  }
  /** The metrics registry (names `tollgate_<area>_<name>_<unit>`). */
  readonly metrics: MetricsRegistry
  /** Background workers that run on one instance at a time across a cluster. */
  readonly workers: { add(worker: WorkerDefinition): void }
  /** The database (MikroORM) and the usage event log. */
  readonly db: Database
  readonly usage: UsageEventReader
  /** The gateway's resolved configuration (read-only). */
  readonly gatewayConfig: Readonly<Record<string, unknown>>
}
