import type { Database } from '../data/database.js'
import type { StoredUsageEvent } from './usage-event.js'

/** A transaction-bound EntityManager as given to a consumer's handler. */
export type TxEntityManager = ReturnType<Database['orm']['em']['fork']>

/** A row as read: the event's columns, and its position in the log (id, inserting transaction). */
type Row = { id: string; tx: string } & Record<string, unknown>

/** A field of a stored usage event, for reading only some of them (see `consume`'s `fields`). */
export type UsageEventField = keyof StoredUsageEvent

type Converters = { [K in UsageEventField]: [column: string, convert: (value: never) => StoredUsageEvent[K]] }
const orUndefined = <T>(v: T | null): T | undefined => v ?? undefined
const same = <T>(v: T): T => v

/** Each field's column and its conversion from the driver's value (null becomes undefined for optional fields). */
const FIELDS: Converters = {
  id: ['id', (v: string) => BigInt(v)],
  requestId: ['request_id', same<string>],
  occurredAt: ['occurred_at', (v: Date | string) => (v instanceof Date ? v : new Date(v))],
  organizationId: ['organization_id', same<string>],
  projectId: ['project_id', orUndefined<string>],
  apiKeyId: ['api_key_id', orUndefined<string>],
  userId: ['user_id', orUndefined<string>],
  provider: ['provider', orUndefined<string>],
  model: ['model', orUndefined<string>],
  upstreamModel: ['upstream_model', orUndefined<string>],
  inputTokens: ['input_tokens', same<number>],
  outputTokens: ['output_tokens', same<number>],
  cachedReadTokens: ['cached_read_tokens', same<number>],
  cacheWriteTokens: ['cache_write_tokens', same<number>],
  cost: ['cost', (v: string) => BigInt(v)],
  marketCost: ['market_cost', (v: string) => BigInt(v)],
  latencyMs: ['latency_ms', same<number>],
  ttftMs: ['ttft_ms', orUndefined<number>],
  status: ['status', same<number>],
  errorCode: ['error_code', orUndefined<string>],
  streaming: ['streaming', same<boolean>],
  clientIp: ['client_ip', orUndefined<string>],
  userAgent: ['user_agent', orUndefined<string>],
  appName: ['app_name', orUndefined<string>],
  estimated: ['estimated', same<boolean>],
  failedAttempts: ['failed_attempts', (v: unknown) => ((typeof v === 'string' ? JSON.parse(v) : v) ?? undefined) as StoredUsageEvent['failedAttempts']],
}

/** Every field: a read without `fields`. */
const ALL_FIELDS = Object.keys(FIELDS) as UsageEventField[]

/** The fields every projected read includes: the event's identity and position. */
const ALWAYS: readonly UsageEventField[] = ['id', 'requestId']

/** A projected read: its select list and the row-to-event conversion of just those fields. */
interface Projection {
  select: string
  toEvent: (r: Record<string, unknown>) => Partial<StoredUsageEvent>
}

const projections = new Map<string, Projection>()

function projection(fields: readonly UsageEventField[]): Projection {
  const wanted = [...new Set([...ALWAYS, ...fields])]
  const key = wanted.join(',')
  let p = projections.get(key)
  if (!p) {
    for (const f of wanted) if (!(f in FIELDS)) throw new TypeError(`unknown usage event field "${f}"`)
    const pairs = wanted.map((f) => [f, FIELDS[f][0], FIELDS[f][1] as (v: unknown) => unknown] as const)
    p = {
      select: pairs.map(([, column]) => column).join(', '),
      toEvent: (r) => {
        const out: Record<string, unknown> = {}
        for (const [field, column, convert] of pairs) out[field] = convert(r[column])
        return out as Partial<StoredUsageEvent>
      },
    }
    projections.set(key, p)
  }
  return p
}

/** Where a consumer's cursor stands in the usage log: the last event read, by (transaction id, id). */
export interface UsageCursor {
  /** The inserting transaction's id (xid8, as decimal text). */
  txId: bigint
  /** The event id. */
  lastId: bigint
}

/** Orders two cursors as the log does: negative when `a` is behind `b`, 0 when equal, positive when ahead. */
export function compareUsageCursors(a: UsageCursor, b: UsageCursor): number {
  if (a.txId !== b.txId) return a.txId < b.txId ? -1 : 1
  return a.lastId === b.lastId ? 0 : a.lastId < b.lastId ? -1 : 1
}

/**
 * Reads usage events exactly once per named consumer. Each call takes the consumer's cursor row
 * FOR UPDATE, reads the next batch, runs the handler, and advances the cursor, all in one
 * transaction: the handler's writes and the cursor commit together or not at all, and two
 * instances running the same consumer serialise on the cursor row.
 *
 * Order is by (inserting transaction id, id), and only rows of transactions older than every
 * running one (`pg_snapshot_xmin`) are read: a sequence id can commit out of order, a
 * transaction id below the snapshot's xmin cannot, so no event is ever skipped. The xmin is
 * cluster-wide: a long transaction anywhere on the PostgreSQL server delays consumers (never
 * makes them skip) until it ends.
 */
export class UsageEventReader {
  readonly #db: Database

  constructor(db: Database) {
    this.#db = db
  }

  /**
   * Consumes up to `limit` events for `consumer`. Returns how many were handled (0 when caught up).
   * The handler gets the transaction's EntityManager: write your derived rows with it.
   *
   * `options.em` runs the read inside a transaction the caller already holds (a worker's run, which
   * holds the worker's advisory lock): a nested transaction (savepoint) on that connection, so the
   * derived rows and the cursor commit with the caller's transaction. Needed on PGlite, whose single
   * connection cannot open a second transaction while the worker's is open.
   */
  async consume<F extends UsageEventField = UsageEventField>(
    consumer: string,
    limit: number,
    handler: (events: Pick<StoredUsageEvent, F | 'id' | 'requestId'>[], em: TxEntityManager) => Promise<void>,
    options: {
      em?: TxEntityManager
      /**
       * Read only these fields (plus `id` and `requestId`): a consumer that needs a few columns
       * does not make PostgreSQL send, nor the driver parse, all of them for every event.
       */
      fields?: readonly F[]
      /**
       * Ends the batch before the first event, in log order, of a request that completed
       * (`occurredAt + latencyMs`) at or after this instant: a consumer that leaves recent
       * requests to someone else for a while. That event and the ones after it are read again by
       * a later call; the call returns how many were handled before it (0 when the very first
       * one stops it). Decided in the database, so held-back events are not sent at all.
       */
      completedBefore?: Date
    } = {},
  ): Promise<number> {
    const p = projection(options.fields ?? ALL_FIELDS)
    return (options.em ?? this.#db.orm.em.fork()).transactional(async (em) => {
      await em.execute('insert into core_event_cursor (consumer) values (?) on conflict (consumer) do nothing', [consumer], 'run')
      const [cursor] = await em.execute<{ tx: string; last_id: string }[]>(
        'select tx_id::text as tx, last_id from core_event_cursor where consumer = ? for update',
        [consumer],
        'all',
      )
      const next = `from core_usage_event
          where (tx_id, id) > (?::xid8, ?::bigint)
            and tx_id < pg_snapshot_xmin(pg_current_snapshot())`
      const rows = options.completedBefore
        ? // A running "has a recent event appeared yet" flag in log order keeps exactly the prefix before the first one.
          await em.execute<Row[]>(
            `select * from (
               select ${p.select}, tx_id::text as tx, tx_id as tx_order,
                      bool_or(occurred_at + coalesce(latency_ms, 0) * interval '1 millisecond' >= ?::timestamptz) over (order by tx_id, id rows between unbounded preceding and current row) as held
                 ${next}
                order by tx_id, id limit ?
             ) r where not held order by tx_order, id`,
            [options.completedBefore.toISOString(), cursor.tx, cursor.last_id, limit],
            'all',
          )
        : await em.execute<Row[]>(`select ${p.select}, tx_id::text as tx ${next} order by tx_id, id limit ?`, [cursor.tx, cursor.last_id, limit], 'all')
      if (rows.length === 0) return 0
      const events = rows.map(p.toEvent) as Pick<StoredUsageEvent, F | 'id' | 'requestId'>[]
      await handler(events, em)
      const last = rows[rows.length - 1]
      await em.execute('update core_event_cursor set tx_id = ?::xid8, last_id = ?, updated_at = now() where consumer = ?', [last.tx, last.id, consumer], 'run')
      return rows.length
    })
  }

  /** A consumer's cursor (undefined when it has none). Pass `em` to read inside a transaction you hold. */
  async cursor(consumer: string, options: { em?: TxEntityManager } = {}): Promise<UsageCursor | undefined> {
    const em = options.em ?? this.#db.orm.em.fork()
    const [row] = await em.execute<{ tx: string; last_id: string }[]>('select tx_id::text as tx, last_id::text as last_id from core_event_cursor where consumer = ?', [consumer], 'all')
    return row ? { txId: BigInt(row.tx), lastId: BigInt(row.last_id) } : undefined
  }

  /**
   * Removes a consumer's cursor, for a consumer that was retired or merged into another one (a
   * later `consume` under that name starts again from the beginning of the log).
   */
  async dropCursor(consumer: string, options: { em?: TxEntityManager } = {}): Promise<void> {
    const em = options.em ?? this.#db.orm.em.fork()
    await em.execute('delete from core_event_cursor where consumer = ?', [consumer], 'run')
  }
}
