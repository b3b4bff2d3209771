import type { TxEntityManager } from '@tollgate/core'
import type { Budget } from '../budgets/budget-store.js'
import { big } from './ledger-rows.js'
import { sql } from './sql-exec.js'
import type { LedgerEntry } from './ledger-types.js'
import type { EntryDraft, SqlLedger } from './sql-ledger.js'

/** A budget allowance a charge counts against: the counter row of one budget, subject and period. */
export interface CounterTarget {
  key: string
  budget: Budget
  subjectId: string
  periodStart: Date
  periodEnd: Date
}

/** A charge ready to post: its ledger draft and the budget counters it adds to. */
export interface ChargePosting {
  draft: EntryDraft
  /** Positive picodollars spent (the draft's amount is its negation). */
  cost: bigint
  counters: CounterTarget[]
}

/** A budget counter after a posting: the spend so far in its period. */
export interface CounterUpdate {
  target: CounterTarget
  spentAfter: bigint
  added: bigint
}

/**
 * Posts charges in the caller's transaction: one INSERT for every ledger entry (duplicates —
 * a charge the other path wrote first — are skipped by key), then the spend of the new ones
 * added to their budget counters. Accounts are locked in id order and counters in key order,
 * the same order everywhere, so concurrent writers never deadlock.
 */
export async function postCharges(ledger: SqlLedger, em: TxEntityManager, postings: ChargePosting[]): Promise<{ entries: LedgerEntry[]; counters: CounterUpdate[]; fresh: Set<ChargePosting> }> {
  const sorted = [...postings].sort((a, b) => (a.draft.accountId < b.draft.accountId ? -1 : a.draft.accountId > b.draft.accountId ? 1 : 0))
  const [entries] = await ledger.insertMany(
    sorted.map((p) => p.draft),
    em,
  )
  const written = new Set(entries.map((e) => `${e.accountId}|${e.idempotencyKey}`))
  const fresh = new Set(sorted.filter((p) => written.has(`${p.draft.accountId}|${p.draft.idempotencyKey}`)))
  const counters = await addToCounters(em, fresh, (p) => p.cost)
  return { entries, counters, fresh }
}

/**
 * Adds the spend of freshly written postings to their budget counters (one upsert, counters in
 * key order) and returns each counter's spend after it.
 */
export async function addToCounters<P extends { counters: CounterTarget[] }>(em: TxEntityManager, postings: Iterable<P>, costOf: (p: P) => bigint): Promise<CounterUpdate[]> {
  const byKey = new Map<string, { target: CounterTarget; added: bigint }>()
  for (const p of postings) {
    const cost = costOf(p)
    for (const c of p.counters) {
      const hit = byKey.get(c.key)
      if (hit) hit.added += cost
      else byKey.set(c.key, { target: c, added: cost })
    }
  }
  const counters: CounterUpdate[] = []
  if (byKey.size > 0) {
    const rows = [...byKey.values()]
      .sort((a, b) => (a.target.key < b.target.key ? -1 : 1))
      .map(({ target: t, added }) => [t.key, t.budget.id, t.budget.organizationId, t.subjectId, t.periodStart.toISOString(), t.periodEnd.toISOString(), added.toString()])
    const updated = await sql<{ pool_key: string; spent: string }>(
      em,
      `insert into billing_budget_counter (pool_key, budget_id, organization_id, subject_id, period_start, period_end, spent)
       select r->>0, (r->>1)::uuid, (r->>2)::uuid, r->>3, (r->>4)::timestamptz, (r->>5)::timestamptz, (r->>6)::numeric
         from jsonb_array_elements($1::jsonb) with ordinality as e(r, n) order by n
       on conflict (pool_key) do update set spent = billing_budget_counter.spent + excluded.spent, updated_at = now()
       returning pool_key, spent::text as spent`,
      [JSON.stringify(rows)],
    )
    for (const u of updated) {
      const hit = byKey.get(u.pool_key)
      if (hit) counters.push({ target: hit.target, spentAfter: big(u.spent), added: hit.added })
    }
  }
  return counters
}
