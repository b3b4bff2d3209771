import type { Logger } from 'pino'

/**
 * Domain events and their payloads. Plugins add theirs by declaration merging:
 *
 *   declare module '@tollgate/core' { interface DomainEvents { 'guardrail.violated': {...} } }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface DomainEvents {}

/** A domain event name. */
export type DomainEventName = keyof DomainEvents & string

/** Context carried with every event: who did it, from where, and the transaction it belongs to. */
export interface EventMeta {
  organizationId?: string
  actor?: { type: 'user' | 'api_key' | 'system'; id: string }
  ip?: string
  userAgent?: string
  /** The MikroORM EntityManager of the transaction the change is in, so a subscriber can write in the same transaction. */
  em?: unknown
  at: Date
}

/** A subscriber. Transactional subscribers run inside the emitter's transaction and can make it fail. */
export type EventHandler<N extends DomainEventName> = (payload: DomainEvents[N], meta: EventMeta) => Promise<void> | void

interface Subscription {
  pluginId: string
  handler: EventHandler<DomainEventName>
  transactional: boolean
}

/** A subscriber to every event (audit trails, forwarders): it gets the event's name too. */
export type AnyEventHandler = (name: string, payload: unknown, meta: EventMeta) => Promise<void> | void

/** Options of a subscription to every event. */
export interface AnyEventOptions {
  pluginId?: string
  transactional?: boolean
  /** Which events to receive (default: all). Filtered-out events do not count for `has`, so emitters may still skip building their payloads. */
  filter?: (name: string) => boolean
}

interface AnySubscription {
  pluginId: string
  handler: AnyEventHandler
  transactional: boolean
  filter: (name: string) => boolean
}

/**
 * A typed in-process event bus. `emit` awaits transactional subscribers (so an audit entry
 * commits or rolls back with the change) and runs the others after, without failing the emitter.
 */
export class EventBus {
  readonly #subs = new Map<string, Subscription[]>()
  readonly #any: AnySubscription[] = []
  readonly #log: Logger

  constructor(log: Logger) {
    this.#log = log
  }

  /** Subscribes to an event. With `transactional`, the handler runs in the emitter's transaction and a throw rolls it back. */
  on<N extends DomainEventName>(name: N, handler: EventHandler<N>, options: { pluginId?: string; transactional?: boolean } = {}): () => void {
    const list = this.#subs.get(name) ?? []
    const sub: Subscription = { pluginId: options.pluginId ?? 'core', handler: handler as EventHandler<DomainEventName>, transactional: options.transactional ?? false }
    list.push(sub)
    this.#subs.set(name, list)
    return () => {
      const i = list.indexOf(sub)
      if (i >= 0) list.splice(i, 1)
    }
  }

  /**
   * Subscribes to every event, including those of plugins this one does not know (an audit trail
   * records them all). Same ordering and failure rules as `on`; the handler gets the name first.
   */
  onAny(handler: AnyEventHandler, options: AnyEventOptions = {}): () => void {
    const sub: AnySubscription = { pluginId: options.pluginId ?? 'core', handler, transactional: options.transactional ?? false, filter: options.filter ?? (() => true) }
    this.#any.push(sub)
    return () => {
      const i = this.#any.indexOf(sub)
      if (i >= 0) this.#any.splice(i, 1)
    }
  }

  /** Emits an event: transactional subscribers first (awaited, throws propagate), then the rest (errors logged). */
  async emit<N extends DomainEventName>(name: N, payload: DomainEvents[N], meta: Partial<EventMeta> = {}): Promise<void> {
    const list = this.#subs.get(name) ?? []
    const any = this.#any.length === 0 ? [] : this.#any.filter((s) => s.filter(name))
    if (list.length === 0 && any.length === 0) return
    const full: EventMeta = { at: new Date(), ...meta }
    for (const sub of list) if (sub.transactional) await sub.handler(payload as never, full)
    for (const sub of any) if (sub.transactional) await sub.handler(name, payload, full)
    for (const sub of list) {
      if (sub.transactional) continue
      try {
        await sub.handler(payload as never, full)
      } catch (err) {
        this.#log.error({ err, event: name, plugin: sub.pluginId }, 'event subscriber failed')
      }
    }
    for (const sub of any) {
      if (sub.transactional) continue
      try {
        await sub.handler(name, payload, full)
      } catch (err) {
        this.#log.error({ err, event: name, plugin: sub.pluginId }, 'event subscriber failed')
      }
    }
  }

  /** True when anything listens to the event (emitters can skip building payloads). */
  has(name: DomainEventName): boolean {
    return (this.#subs.get(name)?.length ?? 0) > 0 || this.#any.some((s) => s.filter(name))
  }
}
