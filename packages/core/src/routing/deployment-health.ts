/**
 * Per-deployment health on this instance: a circuit breaker (consecutive failures open it for a
 * cooldown, then one probe request decides) and the provider's own "come back later" (Retry-After
 * of a 429/503), which makes the deployment wait without counting as a failure. Local state on
 * purpose: a breaker reacts in one request, without a database round trip, and each instance
 * sees its own network path to the provider.
 */

interface State {
  failures: number
  /** Circuit open until (epoch ms); 0 when closed. */
  openUntil: number
  /** True while the one probe after the cooldown is in flight. */
  probing: boolean
  /** The provider asked to wait until (epoch ms). */
  notBefore: number
}

/** Why a deployment may not be tried now. */
export type HealthVerdict = { ok: true; probe: boolean } | { ok: false; reason: 'circuit_open'; retryAt: number }

/** The circuit breakers and Retry-After cooldowns of every deployment. */
export class DeploymentHealth {
  readonly #states = new Map<string, State>()
  #threshold: number
  #cooldownMs: number

  constructor(options: { failureThreshold: number; cooldownMs: number }) {
    this.#threshold = options.failureThreshold
    this.#cooldownMs = options.cooldownMs
  }

  /** Changes the breaker settings (the global policy was edited). */
  configure(options: { failureThreshold: number; cooldownMs: number }): void {
    this.#threshold = options.failureThreshold
    this.#cooldownMs = options.cooldownMs
  }

  /** Whether a deployment's circuit lets a request through now; after the cooldown, one probe at a time. */
  check(id: string, now = Date.now()): HealthVerdict {
    const s = this.#states.get(id)
    if (!s || s.openUntil === 0) return OK
    if (now < s.openUntil || s.probing) return { ok: false, reason: 'circuit_open', retryAt: s.probing ? now + 1000 : s.openUntil }
    return PROBE
  }

  /** Marks the start of the probe request of a half-open circuit. */
  startProbe(id: string): void {
    const s = this.#states.get(id)
    if (s) s.probing = true
  }

  /** Epoch ms before which the provider asked not to be called again (0: no such wish). */
  notBefore(id: string): number {
    return this.#states.get(id)?.notBefore ?? 0
  }

  /** An attempt succeeded: closes the circuit. */
  success(id: string): void {
    const s = this.#states.get(id)
    if (!s) return
    s.failures = 0
    s.openUntil = 0
    s.probing = false
  }

  /** An attempt failed with a server-side error: opens the circuit after `failureThreshold` in a row (at once for a failed probe). */
  failure(id: string, now = Date.now()): void {
    const s = this.#state(id)
    s.failures++
    if (s.probing || s.failures >= this.#threshold) {
      s.openUntil = now + this.#cooldownMs
      s.probing = false
    }
  }

  /** The provider answered 429 or 503 with Retry-After: wait that long before calling it again. */
  cooldown(id: string, retryAfterSeconds: number, now = Date.now()): void {
    const s = this.#state(id)
    s.notBefore = Math.max(s.notBefore, now + retryAfterSeconds * 1000)
    s.probing = false
  }

  /** An attempt was abandoned (client gone): releases a probe without judging the deployment. */
  release(id: string): void {
    const s = this.#states.get(id)
    if (s) s.probing = false
  }

  /** Forgets the state of one deployment (or of all): its circuit closes and any wait is lifted. */
  reset(id?: string): void {
    if (id === undefined) this.#states.clear()
    else this.#states.delete(id)
  }

  /** Health of every deployment seen (for the management API). */
  snapshot(now = Date.now()): Record<string, { state: 'closed' | 'open' | 'half_open'; consecutiveFailures: number; retryAt?: string }> {
    const out: Record<string, { state: 'closed' | 'open' | 'half_open'; consecutiveFailures: number; retryAt?: string }> = {}
    for (const [id, s] of this.#states) {
      const state = s.openUntil === 0 ? 'closed' : now < s.openUntil ? 'open' : 'half_open'
      const wait = Math.max(s.openUntil, s.notBefore)
      out[id] = { state, consecutiveFailures: s.failures, ...(wait > now ? { retryAt: new Date(wait).toISOString() } : {}) }
    }
    return out
  }

  #state(id: string): State {
    let s = this.#states.get(id)
    if (!s) {
      s = { failures: 0, openUntil: 0, probing: false, notBefore: 0 }
      this.#states.set(id, s)
    }
    return s
  }
}

const OK: HealthVerdict = { ok: true, probe: false }
const PROBE: HealthVerdict = { ok: true, probe: true }
