/**
 * Counters and histograms for the per-request metrics, registered in the prom-client registry as
 * custom metrics (an object with `get()`). prom-client validates and hashes a label object on
 * every observation; these keep each series under a key of its label values, so recording one
 * request is a few Map lookups and additions. The exposition is built only at scrape time, in
 * the shape prom-client's own counters and histograms produce.
 */

/** One exposition value, as prom-client's registry formats it. */
interface ExpositionValue {
  metricName?: string
  labels: Record<string, string | number>
  value: number
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {}
  for (let i = 0; i < names.length; i++) labels[names[i]] = values[i]
  return labels
}

/** A counter keyed by its label values (in `labelNames` order). */
export class SeriesCounter {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly #series = new Map<string, { labels: Record<string, string>; value: number }>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** Adds `by` (default 1) to the series of these label values. */
  inc(values: readonly string[], by = 1): void {
    const key = values.join('\u0000')
    const s = this.#series.get(key)
    if (s) s.value += by
    else this.#series.set(key, { labels: labelsOf(this.labelNames, values), value: by })
  }

  /** The exposition (called by the registry at scrape time). */
  get(): { name: string; help: string; type: string; aggregator: string; values: ExpositionValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.value })) }
  }

  reset(): void {
    this.#series.clear()
  }
}

interface HistogramSeries {
  labels: Record<string, string>
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: Float64Array
  sum: number
  count: number
}

/** A histogram keyed by its label values (in `labelNames` order). */
export class SeriesHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, HistogramSeries>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    this.#bounds = [...buckets].sort((a, b) => a - b)
  }

  /** Records one observation in the series of these label values. */
  observe(values: readonly string[], value: number): void {
    const key = values.join('\u0000')
    let s = this.#series.get(key)
    if (!s) {
      s = { labels: labelsOf(this.labelNames, values), counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 }
      this.#series.set(key, s)
    }
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    s.counts[i]++
    s.sum += value
    s.count++
  }

  /** The exposition: cumulative `_bucket` series with `le`, then `_sum` and `_count`. */
  get(): { name: string; help: string; type: string; aggregator: string; values: ExpositionValue[] } {
    const values: ExpositionValue[] = []
    for (const s of this.#series.values()) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i]
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: this.#bounds[i] }, value: cumulative })
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count })
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    this.#series.clear()
  }
}
