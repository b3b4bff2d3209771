/** Tuning and data source of a RefreshingCache. */
export interface RefreshingCacheOptions<K, V> {
  /** Reads the current values of several keys in one round trip, in the order given (one value per key). */
  loadMany: (keys: readonly K[]) => Promise<V[]>
  /**
   * How stale a served value may get: every `ttlMs / 2`, once an entry in use is that old, all
   * entries in use are re-read together in the background, so a change made elsewhere is seen
   * within about `ttlMs`.
   */
  ttlMs: number
  /**
   * Age past which a value is no longer served (its re-reads failed), and time without use after
   * which an entry is dropped rather than re-read. Default 3 × ttlMs.
   */
  maxAgeMs?: number
  /** Keys per refresh query (default 500). */
  batchSize?: number
  /** Above this many entries the cache starts over (default 100,000): memory stays bounded whatever the keys. */
  maxEntries?: number
  /** Called when a background refresh fails (the values stay served until `maxAgeMs`). */
  onRefreshError?: (err: unknown) => void
}

interface Entry<V> {
  value: V
  /** When the value was read (ms since epoch). */
  at: number
  /** When it was last served: entries unused for maxAgeMs are dropped instead of re-read. */
  usedAt: number
  /** Bumped by every write of the entry, so an older read in flight cannot overwrite a newer value. */
  version: number
}

/**
 * A read-through cache of values that other instances may change (API keys, per-organization
 * settings): the request path reads memory only. Rather than one database round trip per key
 * and TTL, which with many keys means a steady stream of small queries and a request now and
 * then waiting on one, every key in use is re-read in one batched query per half TTL, while its
 * current value keeps being served. A key's first read is shared by the callers that miss it
 * together. `clear()` and `set()` win over reads already in flight.
 *
 * Values must not be `undefined` (cache a negative answer as `null` or an object saying so).
 */
export class RefreshingCache<K, V> {
  readonly #options: Required<Omit<RefreshingCacheOptions<K, V>, 'onRefreshError'>> & Pick<RefreshingCacheOptions<K, V>, 'onRefreshError'>
  readonly #entries = new Map<K, Entry<V>>()
  /** Reads in flight; a read keeps its answer only while it is still the one listed here (clear, delete and reload unlist it). */
  readonly #loading = new Map<K, Promise<V>>()
  #versions = 0
  #refreshing: Promise<void> | undefined
  readonly #timer: NodeJS.Timeout | undefined

  constructor(options: RefreshingCacheOptions<K, V>) {
    this.#options = { maxAgeMs: options.ttlMs * 3, batchSize: 500, maxEntries: 100_000, ...options }
    // A TTL of 0 caches nothing: every read goes to the source (concurrent misses still share one).
    if (options.ttlMs > 0) {
      this.#timer = setInterval(() => void this.refresh(), Math.max(1, Math.floor(options.ttlMs / 2)))
      this.#timer.unref()
    }
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size
  }

  /** The cached value (however stale, up to maxAgeMs), or undefined when the caller must read it. */
  peek(key: K, now = Date.now()): V | undefined {
    const e = this.#entries.get(key)
    if (!e || now - e.at >= this.#options.maxAgeMs) return undefined
    e.usedAt = now
    return e.value
  }

  /** The cached value, or a read of it (`load`, else the batched loader for this one key), shared by concurrent callers. */
  get(key: K, load?: () => Promise<V>): V | Promise<V> {
    const hit = this.peek(key)
    if (hit !== undefined) return hit
    return this.#read(key, load)
  }

  /** Reads a key now (after a change made through this instance), caching and returning its value. */
  reload(key: K, load?: () => Promise<V>): Promise<V> {
    // A newer read than any in flight: theirs must not overwrite it.
    this.#loading.delete(key)
    return this.#read(key, load)
  }

  /** Stores a value known to be current. */
  set(key: K, value: V): void {
    if (!this.#timer) return
    if (this.#entries.size >= this.#options.maxEntries && !this.#entries.has(key)) this.#entries.clear()
    const now = Date.now()
    this.#entries.set(key, { value, at: now, usedAt: now, version: ++this.#versions })
  }

  /** Forgets one key. */
  delete(key: K): void {
    this.#entries.delete(key)
    this.#loading.delete(key)
  }

  /** Forgets every key; reads in flight are answered but not kept. */
  clear(): void {
    this.#entries.clear()
    this.#loading.clear()
  }

  /** Once an entry in use is half a TTL old, re-reads every entry in use; drops the unused ones (the timer's job; callable for tests). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = undefined
    })
    return this.#refreshing
  }

  /** Stops the refresh timer. */
  close(): void {
    clearInterval(this.#timer)
  }

  #read(key: K, load?: () => Promise<V>): Promise<V> {
    const pending = this.#loading.get(key)
    if (pending) return pending
    const read = (load ? load() : this.#options.loadMany([key]).then((values) => values[0] as V)).then((value) => {
      if (this.#loading.get(key) === read) this.set(key, value)
      return value
    })
    const settled = read.finally(() => {
      if (this.#loading.get(key) === read) this.#loading.delete(key)
    })
    this.#loading.set(key, read)
    // The caller gets the value; the map entry is removed however the read ends.
    settled.catch(() => {})
    return read
  }

  async #refreshOnce(): Promise<void> {
    const now = Date.now()
    const due: { key: K; version: number }[] = []
    let oldest = now
    for (const [key, e] of this.#entries) {
      if (now - e.usedAt >= this.#options.maxAgeMs) {
        this.#entries.delete(key)
        continue
      }
      if (e.at < oldest) oldest = e.at
      due.push({ key, version: e.version })
    }
    // Once any entry is due, all in use are re-read with it: from then on they share one read
    // time, so each sweep costs one query (per batchSize keys) rather than one per arrival cohort.
    if (now - oldest < this.#options.ttlMs / 2) return
    for (let i = 0; i < due.length; i += this.#options.batchSize) {
      const batch = due.slice(i, i + this.#options.batchSize)
      let values: V[]
      try {
        values = await this.#options.loadMany(batch.map((d) => d.key))
      } catch (err) {
        this.#options.onRefreshError?.(err)
        return
      }
      const at = Date.now()
      for (let j = 0; j < batch.length; j++) {
        const e = this.#entries.get(batch[j].key)
        // Changed (set, reloaded, dropped or cleared) since the refresh began: the newer state stands.
        if (!e || e.version !== batch[j].version) continue
        e.value = values[j] as V
        e.at = at
        e.version = ++this.#versions
      }
    }
  }
}
