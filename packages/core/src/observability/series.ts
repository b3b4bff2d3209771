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

/**
 * The series of one metric under keys of their label values. A series is made by its first
 * recording (so nothing unused is exposed); `bound` gives a caller that records the same label
 * values over and over a resolver that skips building and hashing the key, and finds its series
 * again (new, empty) after a reset.
 */
class SeriesTable<S> {
  readonly #series = new Map<string, S>()
  /** Bumped by clear(): a bound resolver made before it looks its series up again. */
  #generation = 0

  constructor(readonly make: (values: readonly string[]) => S) {}

  get(values: readonly string[]): S {
    return this.#get(values.join('\u0000'), values)
  }

  bound(values: readonly string[]): () => S {
    const key = values.join('\u0000')
    const labels = [...values]
    let series: S | undefined
    let generation = this.#generation
    return () => {
      if (series === undefined || generation !== this.#generation) {
        series = this.#get(key, labels)
        generation = this.#generation
      }
      return series
    }
  }

  all(): IterableIterator<S> {
    return this.#series.values()
  }

  clear(): void {
    this.#series.clear()
    this.#generation++
  }

  #get(key: string, values: readonly string[]): S {
    let s = this.#series.get(key)
    if (s === undefined) {
      s = this.make(values)
      this.#series.set(key, s)
    }
    return s
  }
}

/** One series of a counter, bound to its label values (see SeriesCounter.child). */
export interface CounterChild {
  inc(by?: number): void
}

interface CounterSeries {
  labels: Record<string, string>
  value: number
}

/** A counter keyed by its label values (in `labelNames` order). */
export class SeriesCounter {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly #series = new SeriesTable<CounterSeries>((values) => ({ labels: labelsOf(this.labelNames, values), value: 0 }))

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** Adds `by` (default 1) to the series of these label values. */
  inc(values: readonly string[], by = 1): void {
    this.#series.get(values).value += by
  }

  /** The series of these label values as a handle, for a caller that adds to the same series over and over. */
  child(values: readonly string[]): CounterChild {
    const series = this.#series.bound(values)
    return {
      inc: (by = 1) => {
        series().value += by
      },
    }
  }

  /** The exposition (called by the registry at scrape time). */
  get(): { name: string; help: string; type: string; aggregator: string; values: ExpositionValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.#series.all()].map((s) => ({ labels: s.labels, value: s.value })) }
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

/** One series of a histogram, bound to its label values (see SeriesHistogram.child). */
export interface HistogramChild {
  observe(value: number): void
}

/** A histogram keyed by its label values (in `labelNames` order). */
export class SeriesHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #series = new SeriesTable<HistogramSeries>((values) => ({ labels: labelsOf(this.labelNames, values), counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 }))

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
    this.#record(this.#series.get(values), value)
  }

  /** The series of these label values as a handle, for a caller that records the same label values over and over (a plugin's hook runs). */
  child(values: readonly string[]): HistogramChild {
    const series = this.#series.bound(values)
    return { observe: (value) => this.#record(series(), value) }
  }

  #record(s: HistogramSeries, value: number): void {
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
    for (const s of this.#series.all()) {
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
