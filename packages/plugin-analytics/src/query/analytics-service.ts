import type { Database, IdentityService, TxEntityManager } from '@tollgate/core'
import { notFound } from '../errors.js'
import { CUBES, type CubeName, type Dim } from '../rollup/cubes.js'
import { localDateLabel, localTimeLabel } from '../time/zone.js'
import { addSums, costPer1kTokens, type Percentiles, percentilesOf, type SeriesCell, type Sums, totalsFrom, totalsOf, zeroSums } from './measures.js'
import type { TimeRange } from './params.js'
import { type CubeRow, queryCube } from './rollup-query.js'
import { querySeries } from './series-query.js'

/** Whose usage a query covers: the whole organization, or one member's (their keys' spend). */
export interface Scope {
  organizationId: string
  /** Only this member's usage (callers below admin). */
  userId?: string
  /** Only this project's usage. */
  projectId?: string
}

/** What `activity` groups by. */
export type GroupBy = 'model' | 'project' | 'apiKey' | 'provider'
/** The group-by values the API accepts. */
export const GROUP_BYS: readonly GroupBy[] = ['model', 'project', 'apiKey', 'provider']

const GROUP_DIM: Record<GroupBy, Dim> = { model: 'model', project: 'project_id', apiKey: 'api_key_id', provider: 'provider' }
/** Cubes from the smallest to the most detailed: a query reads the first that has its dimensions. */
const CUBE_ORDER: CubeName[] = ['org', 'model', 'project', 'key', 'member', 'detail']

/** The smallest cube holding the filtered and grouped dimensions (and histograms when asked). */
export function chooseCube(dims: readonly Dim[], histograms = false): CubeName {
  for (const c of CUBE_ORDER) {
    const def = CUBES[c]
    if (histograms && !def.histograms) continue
    if (dims.every((d) => (def.dims as readonly Dim[]).includes(d))) return c
  }
  return 'detail'
}

function scopeFilters(scope: Scope): Partial<Record<Dim, string>> {
  const f: Partial<Record<Dim, string>> = {}
  if (scope.userId) f.user_id = scope.userId
  if (scope.projectId) f.project_id = scope.projectId
  return f
}

/** A series bucket as shown: its UTC bounds and its local label. */
export interface Bucket {
  start: string
  end: string
  label: string
}

function bucketsOf(range: TimeRange): Bucket[] {
  const label = range.granularity === 'day' ? localDateLabel : localTimeLabel
  return range.boundaries.slice(0, -1).map((b, i) => ({ start: new Date(b).toISOString(), end: new Date(range.boundaries[i + 1]).toISOString(), label: label(range.timeZone, b) }))
}

function rangeJson(range: TimeRange) {
  return { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), timezone: range.timeZone, granularity: range.granularity, ...(range.window ? { window: range.window } : {}) }
}

/** Reads analytics views from the rollups (never from the raw usage events). */
export class AnalyticsService {
  readonly #db: Database
  readonly #identity: IdentityService

  constructor(db: Database, identity: IdentityService) {
    this.#db = db
    this.#identity = identity
  }

  #query(cube: CubeName, scope: Scope, extraFilters: Partial<Record<Dim, string>>, groupBy: Dim[], boundaries: readonly number[], timeZone: string, histograms = false): Promise<CubeRow[]> {
    const query = { cube, organizationId: scope.organizationId, filters: { ...scopeFilters(scope), ...extraFilters }, groupBy, boundaries, histograms, timeZone }
    return this.#read((em) => queryCube(em, query))
  }

  #read<T>(run: (em: TxEntityManager) => Promise<T>): Promise<T> {
    const em = this.#db.orm.em.fork()
    if (this.#db.driver !== 'postgresql') return run(em as never)
    // A year of buckets is a thousand small index reads whose row estimates are poor: PostgreSQL
    // would spend more time JIT-compiling the plan than running it, and spill the aggregate to disk.
    return em.transactional(async (tx) => {
      // Both settings in one round trip (a simple query may hold several statements).
      await tx.execute("set local jit = off; set local work_mem = '32MB'", [], 'run')
      return run(tx as never)
    })
  }

  /** Totals of cost, requests, tokens and savings over the range. */
  async summary(scope: Scope, range: TimeRange) {
    const filters = Object.keys(scopeFilters(scope)) as Dim[]
    const rows = await this.#query(chooseCube(filters), scope, {}, [], [range.from, range.to], range.timeZone)
    const sums = rows.reduce((acc, r) => addSums(acc, r.sums), zeroSums())
    return { organizationId: scope.organizationId, scope: scopeName(scope), ...rangeJson(range), totals: totalsOf(sums) }
  }

  /** The time series and the ranking of one grouping. */
  async activity(scope: Scope, range: TimeRange, groupBy: GroupBy) {
    const dim = GROUP_DIM[groupBy]
    const filters = Object.keys(scopeFilters(scope)) as Dim[]
    const query = { cube: chooseCube([...filters, dim]), organizationId: scope.organizationId, filters: scopeFilters(scope), groupBy: [dim], boundaries: range.boundaries, timeZone: range.timeZone }
    // Cells, per-group and grand totals come added up and formatted from the database (querySeries).
    const buckets = bucketsOf(range)
    // Each cell is built whole where it is read (a year by model is 10,950 of them), once the
    // labels read alongside the series have arrived.
    const labelsRead = this.#labels(scope.organizationId, groupBy)
    const builder = labelsRead.then(
      (labels) => (b: number, key: string | null, counts: ArrayLike<number>, at: number, cost: string, marketCost: string, savings: string) =>
        totalsFrom(counts, at, cost, marketCost, savings, { bucketStart: buckets[b].start, bucketLabel: buckets[b].label, key, label: labelOf(labels, key, groupBy) }),
    )
    const [result, labels] = await Promise.all([this.#read((em) => querySeries(em, query, builder)), labelsRead])
    // Within a bucket, groups in locale order (ranked once per group, not per comparison).
    const ordered = result.groups.map((g) => ({ g, sortKey: String(g.key) })).sort((a, b) => a.sortKey.localeCompare(b.sortKey))
    const series: SeriesCell[] = []
    for (let b = 0; b < buckets.length; b++) {
      for (const { g } of ordered) {
        const c = g.cells[b]
        if (c) series.push(c)
      }
    }
    const totalCost = result.total.cost
    const ranking = result.groups
      .map((g) => ({ key: g.key, label: labelOf(labels, g.key, groupBy), share: totalCost === 0n ? 0 : Number((g.cost * 1_000_000n) / totalCost) / 1_000_000, ...g.totals, costPicodollars: g.cost }))
      .sort((a, b) => (a.costPicodollars === b.costPicodollars ? b.requests - a.requests : a.costPicodollars > b.costPicodollars ? -1 : 1))
      .map(({ costPicodollars: _, ...rest }) => rest)
    return { organizationId: scope.organizationId, scope: scopeName(scope), ...(scope.projectId ? { projectId: scope.projectId } : {}), ...rangeJson(range), groupBy, buckets, totals: result.total.totals, ranking, series }
  }

  /** Per member: cost, tokens, requests, error rate and key count, sorted by spend. */
  async members(scope: Scope, range: TimeRange) {
    const rows = await this.#query('member', scope, {}, ['user_id'], [range.from, range.to], range.timeZone)
    const usage = new Map(rows.map((r) => [r.dims.user_id ?? '', r.sums]))
    const [members, keyCounts] = await Promise.all([this.#identity.listMembers(scope.organizationId), this.#keyCounts(scope.organizationId)])
    const listed = scope.userId ? members.filter((m) => m.userId === scope.userId) : members
    const data = listed.map((m) => {
      const s = usage.get(m.userId) ?? zeroSums()
      return { userId: m.userId, email: m.email, name: m.name, role: m.role as string | null, keyCount: keyCounts.get(m.userId) ?? 0, ...totalsOf(s), sortCost: s.cost ?? 0n }
    })
    // Spend by people no longer in the organization stays visible (their keys' usage happened).
    if (!scope.userId) {
      for (const [userId, s] of usage) {
        if (userId !== '' && !listed.some((m) => m.userId === userId)) data.push({ userId, email: '', name: null, role: null, keyCount: keyCounts.get(userId) ?? 0, ...totalsOf(s), sortCost: s.cost ?? 0n })
      }
    }
    data.sort((a, b) => (a.sortCost !== b.sortCost ? (a.sortCost > b.sortCost ? -1 : 1) : b.requests - a.requests || a.email.localeCompare(b.email) || a.userId.localeCompare(b.userId)))
    return { organizationId: scope.organizationId, scope: scopeName(scope), ...rangeJson(range), data: data.map(({ sortCost: _, ...rest }) => rest) }
  }

  /** One member's detail: summary cards, top model, provider and app, cost by model, and the series. */
  async member(scope: Scope, range: TimeRange, userId: string) {
    const members = await this.#identity.listMembers(scope.organizationId)
    const member = members.find((m) => m.userId === userId)
    const memberScope = { ...scope, userId }
    const [seriesRows, detailRows, keyCounts] = await Promise.all([
      this.#query(chooseCube(['user_id', ...(scope.projectId ? (['project_id'] as Dim[]) : [])]), memberScope, {}, [], range.boundaries, range.timeZone),
      this.#query('detail', memberScope, {}, ['provider', 'model', 'app_name'], [range.from, range.to], range.timeZone),
      this.#keyCounts(scope.organizationId),
    ])
    if (!member && seriesRows.length === 0) throw notFound('No such member in this organization')
    const total = zeroSums()
    const buckets = bucketsOf(range)
    const series = seriesRows.sort((a, b) => a.bucket - b.bucket).map((r) => ({ bucketStart: buckets[r.bucket].start, bucketLabel: buckets[r.bucket].label, ...totalsOf(r.sums) }))
    for (const r of seriesRows) addSums(total, r.sums)
    const byModel = groupSums(detailRows, (r) => `${r.dims.provider ?? ''}\u0001${r.dims.model ?? ''}`)
    const byProvider = groupSums(detailRows, (r) => r.dims.provider ?? '')
    const byApp = groupSums(detailRows, (r) => r.dims.app_name ?? '')
    const costByModel = ranked(byModel).map(([k, s]) => {
      const [provider, model] = k.split('\u0001')
      return { model: model || null, provider: provider || null, ...totalsOf(s) }
    })
    const top = <T>(list: [string, Sums][], f: (k: string, s: Sums) => T): T | null => (list.length > 0 ? f(list[0][0], list[0][1]) : null)
    return {
      organizationId: scope.organizationId,
      ...rangeJson(range),
      userId,
      email: member?.email ?? null,
      name: member?.name ?? null,
      role: member?.role ?? null,
      keyCount: keyCounts.get(userId) ?? 0,
      totals: totalsOf(total),
      // The top entries skip usage without the dimension (no app header, no resolved provider).
      topModel: costByModel.find((m) => m.model !== null) ?? null,
      topProvider: top(ranked(byProvider).filter(([k]) => k !== ''), (k, s) => ({ provider: k || null, ...totalsOf(s) })),
      topApp: top(ranked(byApp).filter(([k]) => k !== ''), (k, s) => ({ app: k || null, ...totalsOf(s) })),
      costByModel,
      costByApp: ranked(byApp).map(([k, s]) => ({ app: k || null, ...totalsOf(s) })),
      buckets,
      series,
    }
  }

  /** One API key's cost, tokens, requests and error rate, with its series. */
  async keyUsage(organizationId: string, key: { id: string; name: string; prefix: string; projectId: string; ownerUserId: string; appName: string | null }, range: TimeRange) {
    const rows = await this.#query('key', { organizationId }, { api_key_id: key.id }, [], range.boundaries, range.timeZone)
    const buckets = bucketsOf(range)
    const total = zeroSums()
    for (const r of rows) addSums(total, r.sums)
    const series = rows.sort((a, b) => a.bucket - b.bucket).map((r) => ({ bucketStart: buckets[r.bucket].start, bucketLabel: buckets[r.bucket].label, ...totalsOf(r.sums) }))
    return { organizationId, apiKeyId: key.id, name: key.name, prefix: key.prefix, projectId: key.projectId, ownerUserId: key.ownerUserId, appName: key.appName, ...rangeJson(range), totals: totalsOf(total), buckets, series }
  }

  /** Models side by side: latency and TTFT percentiles, error rate and cost per 1K tokens. */
  async models(scope: Scope, range: TimeRange) {
    const filters = Object.keys(scopeFilters(scope)) as Dim[]
    const rows = await this.#query(chooseCube([...filters, 'provider', 'model'], true), scope, {}, ['provider', 'model'], [range.from, range.to], range.timeZone, true)
    const data = rows
      .map((r) => ({
        provider: r.dims.provider ?? null,
        model: r.dims.model ?? null,
        ...totalsOf(r.sums),
        costPer1kTokens: costPer1kTokens(r.sums),
        latencyMs: percentilesOf('latency', r.sums, r.maxes.latency_max_ms ?? 0) as Percentiles,
        ttftMs: percentilesOf('ttft', r.sums, r.maxes.ttft_max_ms ?? 0) as Percentiles,
        sortCost: r.sums.cost ?? 0n,
      }))
      .sort((a, b) => (a.sortCost === b.sortCost ? b.requests - a.requests : a.sortCost > b.sortCost ? -1 : 1))
      .map(({ sortCost: _, ...rest }) => rest)
    return { organizationId: scope.organizationId, scope: scopeName(scope), ...rangeJson(range), data }
  }

  async #labels(organizationId: string, groupBy: GroupBy): Promise<Map<string, string>> {
    if (groupBy === 'project') return new Map((await this.#identity.listProjects(organizationId)).map((p) => [p.id, p.name]))
    if (groupBy === 'apiKey') return new Map((await this.#allKeys(organizationId)).map((k) => [k.id, `${k.name} (${k.prefix})`]))
    return new Map()
  }

  async #allKeys(organizationId: string) {
    const out = []
    for (let offset = 0; ; offset += 1000) {
      const page = await this.#identity.listApiKeys(organizationId, { limit: 1000, offset })
      out.push(...page)
      if (page.length < 1000) return out
    }
  }

  /** Active (unrevoked) keys per owner. */
  async #keyCounts(organizationId: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>()
    for (const k of await this.#allKeys(organizationId)) if (!k.revokedAt) counts.set(k.ownerUserId, (counts.get(k.ownerUserId) ?? 0) + 1)
    return counts
  }
}

function scopeName(scope: Scope): 'organization' | 'project' | 'member' {
  return scope.userId ? 'member' : scope.projectId ? 'project' : 'organization'
}

function labelOf(labels: Map<string, string>, key: string | null, groupBy: GroupBy): string {
  if (key === null) return groupBy === 'apiKey' ? '(no key)' : groupBy === 'project' ? '(no project)' : '(unknown)'
  return labels.get(key) ?? key
}

function groupSums(rows: CubeRow[], keyOf: (r: CubeRow) => string): Map<string, Sums> {
  const out = new Map<string, Sums>()
  for (const r of rows) {
    const k = keyOf(r)
    addSums(out.get(k) ?? out.set(k, zeroSums()).get(k) ?? {}, r.sums)
  }
  return out
}

function ranked(groups: Map<string, Sums>): [string, Sums][] {
  return [...groups].sort(([, a], [, b]) => ((a.cost ?? 0n) === (b.cost ?? 0n) ? Number((b.requests ?? 0n) - (a.requests ?? 0n)) : (a.cost ?? 0n) > (b.cost ?? 0n) ? -1 : 1))
}
