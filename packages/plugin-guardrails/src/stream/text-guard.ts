import { TollgateError } from '@tollgate/core'
import { type Finding, type RuleSet, redact } from '../engine/rule-set.js'

/** How close to the end of what has arrived a match must end to count as possibly still growing. */
const GROW_SLACK = 64

/** Fewest characters released at once in mid-stream (bounds the rescans per character of answer). */
const RELEASE_STEP = 64

/**
 * Guards one growing text of a streamed answer (a choice's text, or one tool call's
 * arguments). Text is released only once no match can still cover it:
 *
 * - the last `window` characters (the longest match any output rule needs) are held back;
 * - a match that reaches the end of what has arrived may still grow, so it is held whole
 *   (up to `maxHold` characters, past which it is released redacted as it stands);
 * - everything released is scanned with `window` characters of already-released text before
 *   it, so matches are found across chunk boundaries exactly as in the whole text.
 *
 * A block finding throws (the pipeline ends the stream with an error event); redact findings
 * are replaced by their placeholders; warn findings are only reported.
 */
export class TextGuard {
  /** Original text already released (its last `window` characters), for context. */
  #released = ''
  #pending = ''
  readonly #rules: RuleSet
  readonly #maxHold: number
  readonly #onFindings: (findings: Finding[]) => void
  readonly #reported = new Set<string>()
  /** Characters released so far, in total. */
  #releasedTotal = 0

  constructor(rules: RuleSet, maxHold: number, onFindings: (findings: Finding[]) => void) {
    this.#rules = rules
    this.#maxHold = maxHold
    this.#onFindings = onFindings
  }

  /** Characters held back now. */
  get held(): number {
    return this.#pending.length
  }

  /** Adds a delta; returns the text to send now (possibly empty). `final` releases everything. */
  push(delta: string, final = false): string {
    this.#pending += delta
    if (this.#pending.length === 0) return ''
    const window = this.#rules.window
    // Scan only once at least RELEASE_STEP characters could be released: token-sized deltas
    // would otherwise rescan the whole window for every few characters (nothing is sent unscanned).
    if (!final && this.#pending.length - window < RELEASE_STEP) return ''
    const off = this.#released.length
    const buf = this.#released + this.#pending
    const findings = this.#rules.scan(buf, 'output', undefined, true).filter((f) => f.end > off)
    this.#report(findings)
    let cut = final ? buf.length : Math.max(off, buf.length - window)
    if (!final) {
      // The cut only ever moves back, until it is stable: a match ending near the end may still
      // grow (the next characters can be its closing part, like a PEM END line), so it is held
      // from its start; a match straddling the cut is held whole too (never split, and never
      // released past the start of an overlapping match that is still growing).
      for (;;) {
        let next = cut
        for (const f of findings) {
          if (f.start < next && (f.end > next || f.end >= buf.length - GROW_SLACK)) next = Math.max(off, f.start)
        }
        if (next === cut) break
        cut = next
      }
      if (cut === off && this.#pending.length > this.#maxHold) cut = buf.length
    }
    if (cut <= off) return ''
    const out = redact(buf, findings, off, cut)
    this.#releasedTotal += cut - off
    this.#released = buf.slice(Math.max(0, cut - window), cut)
    this.#pending = buf.slice(cut)
    return out
  }

  #report(findings: Finding[]): void {
    const base = this.#releasedTotal - this.#released.length
    const fresh: Finding[] = []
    for (const f of findings) {
      if (f.action === 'block') {
        this.#onFindings([f])
        throw blocked(f)
      }
      // A match is reported once, however many scans see it while it is held.
      const key = `${f.ruleId}:${base + f.start}`
      if (this.#reported.has(key)) continue
      this.#reported.add(key)
      fresh.push(f)
    }
    if (fresh.length > 0) this.#onFindings(fresh)
  }
}

/** The error of a block verdict: names the rule, never the content. */
export function blocked(f: Pick<Finding, 'ruleId'>): TollgateError {
  return new TollgateError('TOLLGATE_ERR_GUARDRAILS_BLOCKED', `The content was blocked by guardrail rule "${f.ruleId}"`)
}
