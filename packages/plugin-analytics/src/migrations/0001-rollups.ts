import { Migration } from '@mikro-orm/migrations'

/*
 * analytics:0001_rollups — one rollup table per cube. The statements are spelled out from the
 * constants below, which are frozen with this migration: a later change to the cubes is a new
 * migration, never an edit here. They are exported for analytics:0002_local_day, whose tables
 * mirror these cubes.
 */

export const DIM_SQL: Record<string, string> = {
  project_id: 'project_id uuid',
  api_key_id: 'api_key_id uuid',
  user_id: 'user_id uuid',
  provider: 'provider text',
  model: 'model text',
  app_name: 'app_name text',
}
export const SUMS = ['requests', 'errors', 'aborted', 'input_tokens', 'output_tokens', 'cached_read_tokens', 'cache_write_tokens', 'cost', 'market_cost', 'latency_sum_ms', 'ttft_count', 'ttft_sum_ms']
export const HISTOGRAM = [
  ...Array.from({ length: 17 }, (_, i) => `latency_b${String(i).padStart(2, '0')}`),
  ...Array.from({ length: 17 }, (_, i) => `ttft_b${String(i).padStart(2, '0')}`),
  'latency_max_ms',
  'ttft_max_ms',
]
export const CUBES_0001: { name: string; dims: string[]; lookups: string[]; histograms: boolean }[] = [
  { name: 'org', dims: [], lookups: [], histograms: false },
  { name: 'model', dims: ['provider', 'model'], lookups: [], histograms: true },
  { name: 'project', dims: ['project_id'], lookups: ['project_id'], histograms: false },
  { name: 'key', dims: ['api_key_id'], lookups: ['api_key_id'], histograms: true },
  { name: 'member', dims: ['user_id'], lookups: ['user_id'], histograms: false },
  { name: 'detail', dims: ['project_id', 'api_key_id', 'user_id', 'provider', 'model', 'app_name'], lookups: ['user_id', 'project_id'], histograms: true },
]

/** The SQL of analytics:0001_rollups (exported for the benchmark's scratch database). */
export function rollupsSql(): string[] {
  const out: string[] = []
  for (const c of CUBES_0001) {
    const table = `analytics_rollup_${c.name}`
    const measures = [...SUMS, ...(c.histograms ? HISTOGRAM : [])].map((m) => `${m} bigint not null default 0`)
    out.push(
      `create table ${table} (
        organization_id uuid not null,
        grain integer not null check (grain in (900, 3600, 21600, 86400)),
        bucket_start timestamptz not null,
        ${[...c.dims.map((d) => DIM_SQL[d]), ...measures].join(',\n        ')},
        updated_at timestamptz not null default now()
      )`,
    )
    // The upsert target: one row per organization, grain, bucket and dimension values (a missing
    // dimension, such as a request without a project, is a NULL that still identifies one row).
    out.push(`create unique index ${table}_uq on ${table} (organization_id, grain, bucket_start${c.dims.map((d) => `, ${d}`).join('')}) nulls not distinct`)
    for (const l of c.lookups) out.push(`create index ${table}_${l}_idx on ${table} (organization_id, ${l}, grain, bucket_start)`)
  }
  return out
}

/** analytics:0001_rollups — the rollup tables of the org, model, project, key, member and detail cubes. */
export class AnalyticsRollups extends Migration {
  override async up(): Promise<void> {
    for (const sql of rollupsSql()) this.addSql(sql)
  }

  override async down(): Promise<void> {
    for (const c of [...CUBES_0001].reverse()) this.addSql(`drop table if exists analytics_rollup_${c.name}`)
  }
}
