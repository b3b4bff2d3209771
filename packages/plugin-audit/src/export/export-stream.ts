import { Readable } from 'node:stream'
import { TimeSlice } from '../time-slice.js'

/** Export formats: CSV (RFC 4180, header row), a JSON array, or JSON Lines. */
export type ExportFormat = 'csv' | 'json' | 'ndjson'

/** A column of a CSV export: its header and how to read it from a record. */
export interface ExportColumn<T> {
  header: string
  value: (record: T) => unknown
}

const NEEDS_QUOTES = /[",\r\n]/

/**
 * A CSV field (RFC 4180): null as empty, objects as JSON text; quoted, with inner quotes
 * doubled, when it holds a quote, comma or line break. Written here rather than through a CSV
 * library because this is the export's hot loop: the library's per-record machinery cost
 * several times the database read for a million rows (measured), and quoting is all it needs.
 */
function cell(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v)
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

function csvLine(fields: string[]): string {
  return `${fields.join(',')}\r\n`
}

/**
 * Formats batch by batch: one string per database batch keeps the per-row cost to formatting
 * (a per-row promise and stream write would cost more than the formatting itself).
 */
async function* jsonChunks<T>(batches: AsyncIterable<T[]>, toJson: (r: T) => unknown, lines: boolean): AsyncGenerator<string> {
  let first = true
  if (!lines) yield '['
  const slice = new TimeSlice()
  for await (const batch of batches) {
    if (batch.length === 0) continue
    let buf = ''
    for (const r of batch) {
      buf += lines ? `${JSON.stringify(toJson(r))}\n` : `${first ? '\n' : ',\n'}${JSON.stringify(toJson(r))}`
      first = false
      if (slice.due()) {
        // A batch takes tens of milliseconds to format: hand over what is ready and let the event loop run.
        yield buf
        buf = ''
        await slice.pause()
      }
    }
    if (buf.length > 0) yield buf
  }
  if (!lines) yield first ? ']\n' : '\n]\n'
}

async function* csvChunks<T>(batches: AsyncIterable<T[]>, columns: readonly ExportColumn<T>[]): AsyncGenerator<string> {
  yield csvLine(columns.map((c) => cell(c.header)))
  const slice = new TimeSlice()
  for await (const batch of batches) {
    let buf = ''
    for (const r of batch) {
      buf += csvLine(columns.map((c) => cell(c.value(r))))
      if (slice.due()) {
        yield buf
        buf = ''
        await slice.pause()
      }
    }
    if (buf.length > 0) yield buf
  }
}

/**
 * A byte stream of the records in the chosen format. It pulls the next batch only as fast as the
 * client reads (stream back-pressure), and the source reads the database in keyset batches, so
 * an export of millions of rows holds a batch or two in memory, never the whole result.
 */
export function exportStream<T>(batches: AsyncIterable<T[]>, format: ExportFormat, columns: readonly ExportColumn<T>[], toJson: (r: T) => unknown): Readable {
  const chunks = format === 'csv' ? csvChunks(batches, columns) : jsonChunks(batches, toJson, format === 'ndjson')
  return Readable.from(chunks, { objectMode: false, highWaterMark: 64 * 1024 })
}
/** The content type and file name of an export. */
export function exportHeaders(format: ExportFormat, name: string): Record<string, string> {
  const type = format === 'csv' ? 'text/csv; charset=utf-8' : format === 'json' ? 'application/json; charset=utf-8' : 'application/x-ndjson; charset=utf-8'
  return { 'content-type': type, 'content-disposition': `attachment; filename="${name}.${format === 'ndjson' ? 'jsonl' : format}"`, 'cache-control': 'no-store' }
}
