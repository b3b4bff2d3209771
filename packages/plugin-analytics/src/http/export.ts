import { stringify } from 'csv-stringify/sync'
import type { FastifyReply } from 'fastify'

/** A flat table for CSV: column names and rows of cell values. */
export interface Table {
  columns: string[]
  /** Rows as objects keyed by column name. */
  rows: readonly object[]
}

/**
 * A cell as CSV text. Text that a spreadsheet would run as a formula (=, +, -, @, tab, CR at the
 * start) is prefixed with a quote; numbers and money strings are left as they are.
 */
function cell(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v)
  const s = String(v)
  if (/^-?\d+(\.\d+)?$/.test(s)) return s
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s
}

/** Sends a view as JSON or CSV; `filename` names the download. */
export function sendView(reply: FastifyReply, format: 'json' | 'csv' | undefined, filename: string, body: unknown, table: () => Table): FastifyReply {
  reply.header('cache-control', 'no-store')
  if (format === 'csv') {
    const t = table()
    const csv = stringify([t.columns, ...t.rows.map((r) => t.columns.map((c) => cell((r as Record<string, unknown>)[c])))], { eof: true, record_delimiter: 'windows' })
    return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}.csv"`).send(csv)
  }
  if (format === 'json') reply.header('content-disposition', `attachment; filename="${filename}.json"`)
  return reply.send(body)
}

/** Columns of a Totals object, in display order. */
export const TOTAL_COLUMNS = [
  'cost',
  'marketCost',
  'savings',
  'requests',
  'errors',
  'aborted',
  'errorRate',
  'inputTokens',
  'outputTokens',
  'cachedReadTokens',
  'cacheWriteTokens',
  'tokens',
  'avgLatencyMs',
  'avgTtftMs',
]
