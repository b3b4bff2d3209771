import type { Gateway, UsageEvent } from '@tollgate/core'

/** A usage event with the given fields (ids are UUIDs, money in picodollars). */
export function usageEvent(over: Partial<UsageEvent> & { requestId: string; occurredAt: Date; organizationId: string }): UsageEvent {
  return {
    inputTokens: 100,
    outputTokens: 50,
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    cost: 1_000_000n,
    marketCost: 1_500_000n,
    latencyMs: 300,
    status: 200,
    streaming: false,
    estimated: false,
    ...over,
  }
}

/** Writes events through core's usage writer (the gateway's own write path) and waits for the flush. */
export async function writeEvents(gw: Gateway, events: UsageEvent[]): Promise<void> {
  for (const e of events) await gw.usageWriter.add(e)
  await gw.usageWriter.flush()
}

/** Raw-event count, for polling the rollups until they have read every event. */
async function rawCount(gw: Gateway): Promise<number> {
  const [r] = await gw.db.orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from core_usage_event', [], 'all')
  return r.n
}

async function rolledUpCount(gw: Gateway): Promise<number> {
  const [r] = await gw.db.orm.em.fork().execute<{ n: number }[]>('select coalesce(sum(requests), 0)::int as n from analytics_rollup_org where grain = 86400', [], 'all')
  return r.n
}

/**
 * Runs the rollup worker until every raw event is rolled up. On PostgreSQL the reader waits for
 * transactions older than the cluster's snapshot xmin (other test files' included), so this polls,
 * bounded.
 */
export async function drainRollups(gw: Gateway, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const target = await rawCount(gw)
  for (;;) {
    while ((await gw.workers.runOnce('analytics.rollup')) === true) {}
    if ((await rolledUpCount(gw)) >= target) return
    if (Date.now() > deadline) throw new Error(`rollups did not catch up: ${await rolledUpCount(gw)} of ${target}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A fixed, reproducible pseudo-random sequence (tests must not depend on luck). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
