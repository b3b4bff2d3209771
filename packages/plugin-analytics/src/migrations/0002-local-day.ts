import { Migration } from '@mikro-orm/migrations'
import { CUBES_0001, DIM_SQL, HISTOGRAM, SUMS } from './0001-rollups.js'

/*
 * analytics:0002_local_day — the local-day tier: per cube, one row per organization, time zone,
 * local calendar date and dimension values, for the zones listed in analytics_local_day_zone.
 * A year in such a zone then reads one row per day and group instead of a mix of day, 6-hour,
 * hour and 15-minute rows. Built from the frozen 0001 cube constants: a later cube change is a new
 * migration.
 */

/** The SQL of analytics:0002_local_day (exported for the benchmark's scratch database). */
export function localDaySql(): string[] {
  const out: string[] = [
    // A zone listed here has a complete tier: its backfill and this row commit together, and every
    // rollup batch from then on adds to the tier of each listed zone in the same transaction.
    `create table analytics_local_day_zone (
      time_zone text primary key,
      created_at timestamptz not null default now()
    )`,
  ]
  for (const c of CUBES_0001) {
    const table = `analytics_local_day_${c.name}`
    const measures = [...SUMS, ...(c.histograms ? HISTOGRAM : [])].map((m) => `${m} bigint not null default 0`)
    out.push(
      `create table ${table} (
        organization_id uuid not null,
        time_zone text not null,
        day date not null,
        ${[...c.dims.map((d) => DIM_SQL[d]), ...measures].join(',\n        ')},
        updated_at timestamptz not null default now()
      )`,
    )
    // The upsert target and the queries' range read: (organization, zone, day) leads.
    out.push(`create unique index ${table}_uq on ${table} (organization_id, time_zone, day${c.dims.map((d) => `, ${d}`).join('')}) nulls not distinct`)
    for (const l of c.lookups) out.push(`create index ${table}_${l}_idx on ${table} (organization_id, time_zone, ${l}, day)`)
  }
  return out
}

/** analytics:0002_local_day — local-day rollup tables keyed by time zone name, and the list of zones kept. */
export class AnalyticsLocalDay extends Migration {
  override async up(): Promise<void> {
    for (const sql of localDaySql()) this.addSql(sql)
  }

  override async down(): Promise<void> {
    for (const c of [...CUBES_0001].reverse()) this.addSql(`drop table if exists analytics_local_day_${c.name}`)
    this.addSql('drop table if exists analytics_local_day_zone')
  }
}
