import { formatUsd } from '@tollgate/core'
import type { CommerceContext } from './commerce-context.js'
import { big, reader, rows } from './commerce-db.js'
import { monthRange } from './invoices.js'
import { meterUsage } from './meter-usage.js'

/** Dollars as a JSON number for seed 002's display shapes (exact strings sit beside them). */
function num(pico: bigint): number {
  return Number(formatUsd(pico))
}

/**
 * Monthly usage summaries (seed 004): per organization and month, usage by type (LLM tokens per
 * model, requests, metered usage) with quantities and costs. Filter by organization, year, month.
 */
export async function usageSummaries(ctx: CommerceContext, filter: { organizationId?: string; year?: number; month?: number }) {
  const where: string[] = []
  const params: unknown[] = []
  if (filter.organizationId) {
    where.push('organization_id = ?')
    params.push(filter.organizationId)
  }
  if (filter.year) {
    where.push('extract(year from month) = ?')
    params.push(filter.year)
  }
  if (filter.month) {
    where.push('extract(month from month) = ?')
    params.push(filter.month)
  }
  const list = await rows<{ organization_id: string; month: string | Date; model: string; requests: string; tokens: string; input: string; output: string; cached: string; cost: string; market: string }>(
    reader(ctx.host.db),
    `select organization_id, to_char(month, 'YYYY-MM') as month, model, sum(requests) as requests,
            sum(input_tokens + output_tokens) as tokens,
            sum(input_tokens) as input, sum(output_tokens) as output, sum(cached_read_tokens) as cached, sum(cost) as cost, sum(market_cost) as market
       from billing_usage_rollup ${where.length ? `where ${where.join(' and ')}` : ''}
      group by organization_id, month, model order by month desc, organization_id, model limit 5000`,
    params,
  )
  const byOrgMonth = new Map<string, { organizationId: string; year: number; month: number; byType: { type: string; name: string; quantity: number; unit: string; costUsd: string }[]; requests: number; tokens: number; cost: bigint; market: bigint }>()
  for (const r of list) {
    const key = `${r.organization_id}|${r.month}`
    let s = byOrgMonth.get(key)
    if (!s) {
      const [y, m] = String(r.month).split('-').map(Number)
      s = { organizationId: r.organization_id, year: y, month: m, byType: [], requests: 0, tokens: 0, cost: 0n, market: 0n }
      byOrgMonth.set(key, s)
    }
    s.byType.push({ type: 'llm_tokens', name: r.model || 'unknown', quantity: Number(r.tokens), unit: 'tokens', costUsd: formatUsd(big(r.cost)) })
    s.requests += Number(r.requests)
    s.tokens += Number(r.tokens)
    s.cost += big(r.cost)
    s.market += big(r.market)
  }
  const out = []
  for (const s of byOrgMonth.values()) {
    const { start, end } = monthRange(s.year, s.month)
    const meters = await meterUsage(ctx, s.organizationId, start, end)
    let total = s.cost
    for (const m of meters) {
      s.byType.push({ type: 'meter', name: m.meter, quantity: m.quantity, unit: m.unit, costUsd: formatUsd(m.cost) })
      total += m.cost
    }
    out.push({
      organizationId: s.organizationId,
      year: s.year,
      month: s.month,
      period: `${s.year}-${String(s.month).padStart(2, '0')}`,
      requests: s.requests,
      tokens: s.tokens,
      byType: s.byType,
      totalCostUsd: formatUsd(total),
      marketCostUsd: formatUsd(s.market),
      savingsUsd: formatUsd(s.market - s.cost),
    })
  }
  return out
}

/**
 * The cost breakdown of one organization and month: by project, member, model and meter (exact
 * USD strings), plus seed 002's `CostBreakdown` shape (`total_usd`, `by_service`, `by_user`).
 */
export async function costBreakdown(ctx: CommerceContext, organizationId: string, year: number, month: number) {
  const { start, end } = monthRange(year, month)
  const em = reader(ctx.host.db)
  const base = [organizationId, start.toISOString().slice(0, 10)]
  const group = (col: string) =>
    rows<{ key: string; requests: string; tokens: string; cost: string }>(
      em,
      `select ${col} as key, sum(requests) as requests, sum(input_tokens + output_tokens) as tokens, sum(cost) as cost
         from billing_usage_rollup where organization_id = ? and month = ?::date group by ${col} order by sum(cost) desc`,
      base,
    )
  const [byProject, byMember, byModel, meters, projects, members] = await Promise.all([
    group('project_id'),
    group('user_id'),
    group('model'),
    meterUsage(ctx, organizationId, start, end),
    ctx.identity.listProjects(organizationId),
    ctx.identity.listMembers(organizationId),
  ])
  const projectName = new Map(projects.map((p) => [p.id, p.name]))
  const memberName = new Map(members.map((m) => [m.userId, m.name ?? m.email]))
  const llm = byModel.reduce((s, r) => s + big(r.cost), 0n)
  const meterCost = (names: string[]) => meters.filter((m) => names.includes(m.meter)).reduce((s, m) => s + m.cost, 0n)
  const total = llm + meters.reduce((s, m) => s + m.cost, 0n)
  const line = (r: { requests: string; tokens: string; cost: string }) => ({ requests: Number(r.requests), tokens: Number(r.tokens), costUsd: formatUsd(big(r.cost)) })
  return {
    period: `${year}-${String(month).padStart(2, '0')}`,
    organizationId,
    totalUsd: formatUsd(total),
    byProject: byProject.map((r) => ({ projectId: r.key || null, name: r.key ? (projectName.get(r.key) ?? null) : null, ...line(r) })),
    byMember: byMember.map((r) => ({ userId: r.key || null, name: r.key ? (memberName.get(r.key) ?? null) : null, ...line(r) })),
    byModel: byModel.map((r) => ({ model: r.key || null, ...line(r) })),
    byMeter: meters.map((m) => ({ meter: m.meter, quantity: m.quantity, unit: m.unit, costUsd: formatUsd(m.cost) })),
    // Seed 002's CostBreakdown, in dollars as numbers for charts.
    total_usd: num(total),
    by_service: {
      ai_service: { llm_cost: num(llm), compute_cost: num(meterCost(['compute_minutes', 'compute_hours', 'compute'])) },
      query_engine: { query_cost: num(meterCost(['sql_queries', 'queries'])), storage_cost: num(meterCost(['storage_gb', 'data_storage_gb', 'stored_tokens'])) },
      ml_service: { training_cost: num(meterCost(['training'])), serving_cost: num(meterCost(['serving', 'bandwidth', 'bandwidth_gb'])) },
    },
    by_user: byMember.filter((r) => r.key).map((r) => ({ user_id: r.key, name: memberName.get(r.key) ?? '', cost_usd: num(big(r.cost)) })),
  }
}
