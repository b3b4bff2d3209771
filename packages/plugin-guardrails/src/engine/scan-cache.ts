import { hash } from 'node:crypto'
import type { Finding, RuleSet } from './rule-set.js'

/** Texts shorter than this are scanned every time: hashing them would cost about as much. */
const MIN_CACHED_LENGTH = 256

/**
 * Findings of prompt texts already scanned, per compiled rule set. Chat clients resend the whole
 * conversation on every turn and apps send the same system prompt on every request, so most
 * message texts of a request were scanned before, often many times; the scan of an unchanged
 * text under an unchanged rule set gives the same findings, which are looked up here instead.
 *
 * - Keyed by the SHA-256 of the text (with the role, which selects role-scoped rules): no prompt
 *   text is kept in memory, and no text can be made to collide with another.
 * - One cache per `RuleSet` (a WeakMap): a policy change compiles a new rule set, so its texts
 *   are scanned afresh and the old entries go with the old set.
 * - Bounded: two generations of at most `capacity / 2` entries each; when the current one is
 *   full it becomes the previous one and the oldest generation is dropped (an LRU approximation
 *   without per-hit bookkeeping). A hit in the previous generation is promoted.
 *
 * Findings are shared between requests, so nothing may modify them (the hooks only read them).
 */
export class ScanCache {
  readonly #half: number
  readonly #sets = new WeakMap<RuleSet, { current: Map<string, readonly Finding[]>; previous: Map<string, readonly Finding[]> }>()

  /** `capacity`: most texts remembered per rule set (0 disables the cache). */
  constructor(capacity: number) {
    this.#half = Math.floor(capacity / 2)
  }

  /** The findings of an input text of `role` under `rules`: from the cache, else scanned and remembered. */
  scanInput(rules: RuleSet, text: string, role: string | undefined): readonly Finding[] {
    if (this.#half === 0 || text.length < MIN_CACHED_LENGTH) return rules.scan(text, 'input', role)
    let gens = this.#sets.get(rules)
    if (!gens) {
      gens = { current: new Map(), previous: new Map() }
      this.#sets.set(rules, gens)
    }
    const key = `${role ?? ''}:${hash('sha256', text, 'base64')}`
    let found = gens.current.get(key)
    if (found) return found
    found = gens.previous.get(key) ?? rules.scan(text, 'input', role)
    if (gens.current.size >= this.#half) {
      gens.previous = gens.current
      gens.current = new Map()
    }
    gens.current.set(key, found)
    return found
  }
}
