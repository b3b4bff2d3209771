/** Loads every provider key of a project, decrypted, keyed by provider. */
export type ProjectKeyLoader = (projectId: string) => Promise<Map<string, string>>

interface Entry {
  keys: ReadonlyMap<string, string>
  expiresAt: number
}

const NONE: ReadonlyMap<string, string> = new Map()

/**
 * The hot-path cache of projects' own provider keys. One lookup loads all of a project's keys,
 * so "this project has no key for that provider" (the common case) is cached like a hit;
 * concurrent misses share one load. Changes on this instance invalidate at once, changes on other
 * instances show within the TTL.
 */
export class ProviderKeyCache {
  readonly #load: ProjectKeyLoader
  readonly #ttlMs: number
  readonly #maxProjects: number
  readonly #entries = new Map<string, Entry>()
  readonly #loading = new Map<string, Promise<ReadonlyMap<string, string>>>()
  #generation = 0

  constructor(load: ProjectKeyLoader, options: { ttlMs?: number; maxProjects?: number } = {}) {
    this.#load = load
    this.#ttlMs = options.ttlMs ?? 30_000
    this.#maxProjects = options.maxProjects ?? 50_000
  }

  /** The decrypted key of a project for a provider, or undefined when the project has none. */
  async get(projectId: string, provider: string): Promise<string | undefined> {
    const entry = this.#entries.get(projectId)
    if (entry && entry.expiresAt > Date.now()) return entry.keys.get(provider)
    return (await this.#refresh(projectId)).get(provider)
  }

  /** Every key of a project, decrypted, keyed by provider (empty when it has none). */
  async all(projectId: string): Promise<ReadonlyMap<string, string>> {
    const entry = this.#entries.get(projectId)
    if (entry && entry.expiresAt > Date.now()) return entry.keys
    return this.#refresh(projectId)
  }

  #refresh(projectId: string): Promise<ReadonlyMap<string, string>> {
    const pending = this.#loading.get(projectId)
    if (pending) return pending
    const generation = this.#generation
    const promise = this.#load(projectId)
      .then((keys) => {
        const value = keys.size === 0 ? NONE : keys
        if (generation === this.#generation) {
          if (this.#entries.size >= this.#maxProjects) this.#entries.clear()
          this.#entries.set(projectId, { keys: value, expiresAt: Date.now() + this.#ttlMs })
        }
        return value
      })
      .finally(() => {
        if (this.#loading.get(projectId) === promise) this.#loading.delete(projectId)
      })
    this.#loading.set(projectId, promise)
    return promise
  }

  /** Forgets one project's keys (after a change), or every project's. */
  invalidate(projectId?: string): void {
    this.#generation++
    if (projectId === undefined) this.#entries.clear()
    else this.#entries.delete(projectId)
    this.#loading.clear()
  }
}
