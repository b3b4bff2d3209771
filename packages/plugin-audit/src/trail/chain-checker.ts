import type { AuditEntry } from './audit-entry.js'
import type { Checkpoint } from './checkpoint-signer.js'
import { GENESIS_HASH, entryHash } from './entry-hash.js'

/** Why verification stopped. */
export type TamperReason =
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'missing'
  | 'duplicate'
  | 'wrong_organization'
  | 'truncated'
  | 'head_mismatch'
  | 'checkpoint_mismatch'
  | 'checkpoint_signature_invalid'
  | 'reference_mismatch'

/** The first entry that cannot be trusted, and why. */
export interface FirstBadEntry {
  /** Sequence number of the first bad (or missing) entry. */
  seq: number
  /** Its id, when a row with that sequence number exists. */
  entryId: string | null
  reason: TamperReason
  message: string
}

/** The outcome of verifying one organization's chain. */
export interface VerifyReport {
  organizationId: string
  intact: boolean
  /** Entries read and checked. */
  checkedEntries: number
  /** The last entry that verified. */
  lastGoodSeq: number
  firstBad: FirstBadEntry | null
  /** Signed checkpoints compared with the chain, and the highest one that matched. */
  checkpoints: { checked: number; latestMatchedSeq: number | null }
}

/** What the checker compares the chain with, besides the chain itself. */
export interface CheckerOptions {
  /** Checkpoints whose signatures were already verified (stored and exported ones). */
  checkpoints?: readonly Checkpoint[]
  /** Hashes of a trusted copy (an earlier export): the first entry that differs is named exactly. */
  reference?: ReadonlyMap<number, string>
}

/**
 * Walks one organization's entries in sequence order and stops at the first one that breaks the
 * chain: a missing or repeated sequence number, a prev_hash that is not its predecessor's hash,
 * a hash that does not match the entry's canonical form, or a disagreement with a signed
 * checkpoint or a trusted copy. A rewrite that recomputed every hash from entry k on passes the
 * first checks and is caught at the next checkpoint after k: the first bad entry is then reported
 * as the first one after the last checkpoint that still matched (the rewrite began there or later).
 */
export class ChainChecker {
  readonly #org: string
  readonly #checkpoints: Map<number, Checkpoint[]>
  readonly #reference?: ReadonlyMap<number, string>
  #lastSeq = 0
  #lastHash = GENESIS_HASH
  #lastMatchedCheckpoint = 0
  #checkpointsChecked = 0
  #checked = 0
  #bad: FirstBadEntry | null = null

  constructor(organizationId: string, options: CheckerOptions = {}) {
    this.#org = organizationId
    this.#checkpoints = new Map()
    for (const c of options.checkpoints ?? []) {
      const list = this.#checkpoints.get(c.seq) ?? []
      list.push(c)
      this.#checkpoints.set(c.seq, list)
    }
    this.#reference = options.reference
  }

  /** The first bad entry found so far. */
  get bad(): FirstBadEntry | null {
    return this.#bad
  }

  /** Records a problem found outside the entries (a stored checkpoint with a bad signature). */
  fail(bad: FirstBadEntry): void {
    if (!this.#bad || bad.seq < this.#bad.seq) this.#bad = bad
  }

  /** Checks the next entry; returns false once a bad entry was found (stop reading). */
  push(e: AuditEntry): boolean {
    if (this.#bad) return false
    this.#checked++
    const expected = this.#lastSeq + 1
    if (e.organizationId !== this.#org) return this.#stop(e.seq, e.id, 'wrong_organization', `entry ${e.seq} belongs to organization ${e.organizationId}`)
    if (e.seq < expected) return this.#stop(e.seq, e.id, 'duplicate', `sequence number ${e.seq} appears twice`)
    if (e.seq > expected) return this.#stop(expected, null, 'missing', `entry ${expected} is missing (the next entry is ${e.seq})`)
    if (e.prevHash !== this.#lastHash) return this.#stop(e.seq, e.id, 'prev_hash_mismatch', `entry ${e.seq} does not link to entry ${this.#lastSeq}`)
    if (entryHash(e) !== e.hash) return this.#stop(e.seq, e.id, 'hash_mismatch', `entry ${e.seq} does not match its hash (its content or hash was changed)`)
    const ref = this.#reference?.get(e.seq)
    if (ref !== undefined && ref !== e.hash) return this.#stop(e.seq, e.id, 'reference_mismatch', `entry ${e.seq} differs from the trusted copy`)
    for (const c of this.#checkpoints.get(e.seq) ?? []) {
      this.#checkpointsChecked++
      if (c.hash !== e.hash) {
        const from = this.#rewriteStart(e.seq)
        return this.#stop(from, null, 'checkpoint_mismatch', `the chain differs from the checkpoint signed at entry ${e.seq}: it was rewritten from entry ${from} or later`)
      }
      this.#lastMatchedCheckpoint = e.seq
    }
    this.#lastSeq = e.seq
    this.#lastHash = e.hash
    return true
  }

  /** Ends the walk: checkpoints or a chain head beyond the last entry mean the end was cut off. */
  finish(head?: { seq: number; hash: string }): VerifyReport {
    if (!this.#bad) {
      const beyond = [...this.#checkpoints.keys()].filter((s) => s > this.#lastSeq).sort((a, b) => a - b)
      if (beyond.length > 0) {
        this.#checkpointsChecked += beyond.length
        this.#stop(this.#lastSeq + 1, null, 'truncated', `entries from ${this.#lastSeq + 1} are missing: a checkpoint was signed at entry ${beyond[beyond.length - 1]}`)
      } else if (head && head.seq > this.#lastSeq) {
        this.#stop(this.#lastSeq + 1, null, 'truncated', `entries from ${this.#lastSeq + 1} are missing: the chain head is at ${head.seq}`)
      } else if (head && head.seq === this.#lastSeq && head.hash !== this.#lastHash) {
        this.#stop(this.#lastSeq, null, 'head_mismatch', `entry ${this.#lastSeq} differs from the chain head`)
      }
    }
    return {
      organizationId: this.#org,
      intact: this.#bad === null,
      checkedEntries: this.#checked,
      lastGoodSeq: this.#bad ? Math.min(this.#lastSeq, this.#bad.seq - 1) : this.#lastSeq,
      firstBad: this.#bad,
      checkpoints: { checked: this.#checkpointsChecked, latestMatchedSeq: this.#lastMatchedCheckpoint || null },
    }
  }

  /** The first entry a rewrite detected at checkpoint `seq` may have touched. */
  #rewriteStart(seq: number): number {
    let from = this.#lastMatchedCheckpoint
    for (const s of this.#checkpoints.keys()) if (s < seq && s > from) from = s
    return Math.min(from + 1, seq)
  }

  #stop(seq: number, entryId: string | null, reason: TamperReason, message: string): false {
    this.#bad = { seq, entryId, reason, message }
    return false
  }
}
