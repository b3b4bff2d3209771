import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** prom-client default gauges whose names end in `_total` (see the constructor). */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

/** Metric names: `tollgate_<area>_<name>_<unit>`, snake_case; `_total` only on counters. */
const NAME = /^tollgate_[a-z][a-z0-9]*(_[a-z0-9]+)+$/

/** Options shared by every metric kind. */
export interface MetricOptions<L extends string> {
  name: string
  help: string
  labelNames?: readonly L[]
}

/**
 * The gateway's prom-client registry, with the naming scheme enforced: a bad name or a second
 * metric of the same name fails at registration, not at scrape time.
 */
export class MetricsRegistry {
  readonly registry: Registry

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry()
    if (options.defaultMetrics) {
      collectDefaultMetrics({ register: this.registry })
      // prom-client also exports these sums as gauges named `..._total`, which Prometheus' own
      // lint rejects (only counters end in _total); `sum(nodejs_active_handles)` gives the same.
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name)
    }
  }

  /** The HTTP Content-Type of `text()`: Prometheus' classic text format. */
  get contentType(): string {
    return this.registry.contentType
  }

  /** True when a metric of that name is registered. */
  has(name: string): boolean {
    return this.registry.getSingleMetric(name) !== undefined
  }

  #check(name: string, kind: 'counter' | 'gauge' | 'histogram'): void {
    if (!NAME.test(name)) throw new Error(`metric ${name}: names are tollgate_<area>_<name>_<unit> in snake_case`)
    if (kind === 'counter' && !name.endsWith('_total')) throw new Error(`metric ${name}: counters end in _total`)
    if (kind !== 'counter' && name.endsWith('_total')) throw new Error(`metric ${name}: only counters end in _total`)
    if (this.registry.getSingleMetric(name)) throw new Error(`metric ${name} is registered twice`)
  }

  /** A counter (`..._total`). */
  counter<L extends string>(options: MetricOptions<L>): Counter<L> {
    this.#check(options.name, 'counter')
    return new Counter({ ...options, labelNames: options.labelNames ?? [], registers: [this.registry] })
  }

  /** A gauge; `collect` is called at scrape time. */
  gauge<L extends string>(options: MetricOptions<L> & { collect?: (this: Gauge<L>) => void | Promise<void> }): Gauge<L> {
    this.#check(options.name, 'gauge')
    return new Gauge({ ...options, labelNames: options.labelNames ?? [], registers: [this.registry] })
  }

  /** A histogram; `buckets` in the metric's base unit (seconds, bytes, tokens). */
  histogram<L extends string>(options: MetricOptions<L> & { buckets?: number[] }): Histogram<L> {
    this.#check(options.name, 'histogram')
    return new Histogram({ ...options, labelNames: options.labelNames ?? [], registers: [this.registry] })
  }

  /**
   * Registers a custom collector: any object prom-client's registry can read (`name`, `type`,
   * `get()` returning the exposition values), under the same naming rules.
   */
  collector<M extends { name: string; type: 'counter' | 'gauge' | 'histogram'; get(): unknown }>(metric: M): M {
    this.#check(metric.name, metric.type)
    this.registry.registerMetric(metric as never)
    return metric
  }

  /** The exposition text (Prometheus classic text format). */
  async text(): Promise<string> {
    return this.registry.metrics()
  }
}
