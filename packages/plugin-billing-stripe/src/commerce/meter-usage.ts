import type { LedgerEntry } from '../ledger/ledger-types.js'
import type { CommerceContext } from './commerce-context.js'

/** One meter's usage in a period, read from the ledger's usage_debit entries. */
export interface MeterUsage {
  meter: string
  quantity: number
  unit: string
  cost: bigint
}

/** The meter an entry settles, if it settles one (metered entries carry `metadata.meter`). */
function meterOf(e: LedgerEntry): string | undefined {
  const m = e.metadata?.meter
  return typeof m === 'string' && m ? m : undefined
}

/**
 * Sums the organization's metered (non-LLM) usage between two instants from the ledger's
 * usage_debit entries: cost is the negated debit, quantity `metadata.quantity`, unit
 * `metadata.unit`. Reversals of such debits (same type, positive) subtract again.
 */
export async function meterUsage(ctx: CommerceContext, organizationId: string, from: Date, to: Date): Promise<MeterUsage[]> {
  const byMeter = new Map<string, MeterUsage>()
  let cursor: string | undefined
  for (let pages = 0; pages < 1000; pages++) {
    const page = await ctx.ledger.history({ organizationId }, { types: ['usage_debit'], from, to, limit: 500, cursor })
    for (const e of page.entries) {
      const meter = meterOf(e)
      if (!meter) continue
      let m = byMeter.get(meter)
      if (!m) {
        m = { meter, quantity: 0, unit: String(e.metadata?.unit ?? 'units'), cost: 0n }
        byMeter.set(meter, m)
      }
      const sign = e.amount < 0n ? 1 : -1
      m.quantity += sign * Number(e.metadata?.quantity ?? 0)
      m.cost -= e.amount
    }
    if (!page.nextCursor) break
    cursor = page.nextCursor
  }
  return [...byMeter.values()].sort((a, b) => a.meter.localeCompare(b.meter))
}
