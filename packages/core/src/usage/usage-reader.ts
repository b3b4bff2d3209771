import type { Database } from '../data/database.js'
import type { StoredUsageEvent } from './usage-event.js'

/** A transaction-bound EntityManager as given to a consumer's handler. */
export type TxEntityManager = ReturnType<Database['orm']['em']['fork']>

interface Row {
  id: string
  tx: string
  request_id: string
  occurred_at: Date | string
  organization_id: string
  project_id: string | null
  api_key_id: string | null
  user_id: string | null
  provider: string | null
  model: string | null
  upstream_model: string | null
  input_tokens: number
  output_tokens: number
  cached_read_tokens: number
  cache_write_tokens: number
  cost: string
  market_cost: string
  latency_ms: number
  ttft_ms: number | null
  status: number
  error_code: string | null
  streaming: boolean
  client_ip: string | null
  user_agent: string | null
  app_name: string | null
  estimated: boolean
  failed_attempts: unknown
}

function toEvent(r: Row): StoredUsageEvent {
  return {
    id: BigInt(r.id),
    requestId: r.request_id,
    occurredAt: r.occurred_at instanceof Date ? r.occurred_at : new Date(r.occurred_at),
    organizationId: r.organization_id,
    projectId: r.project_id ?? undefined,
    apiKeyId: r.api_key_id ?? undefined,
    userId: r.user_id ?? undefined,
    provider: r.provider ?? undefined,
    model: r.model ?? undefined,
    upstreamModel: r.upstream_model ?? undefined,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cachedReadTokens: r.cached_read_tokens,
    cacheWriteTokens: r.cache_write_tokens,
    cost: BigInt(r.cost),
    marketCost: BigInt(r.market_cost),
    latencyMs: r.latency_ms,
    ttftMs: r.ttft_ms ?? undefined,
    status: r.status,
    errorCode: r.error_code ?? undefined,
    streaming: r.streaming,
    clientIp: r.client_ip ?? undefined,
    userAgent: r.user_agent ?? undefined,
    appName: r.app_name ?? undefined,
    estimated: r.estimated,
    failedAttempts: (typeof r.failed_attempts === 'string' ? JSON.parse(r.failed_attempts) : r.failed_attempts) ?? undefined,
  }
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
  async consume(
    consumer: string,
    limit: number,
    handler: (events: StoredUsageEvent[], em: TxEntityManager) => Promise<void>,
    options: { em?: TxEntityManager } = {},
  ): Promise<number> {
    return (options.em ?? this.#db.orm.em.fork()).transactional(async (em) => {
      await em.execute('insert into core_event_cursor (consumer) values (?) on conflict (consumer) do nothing', [consumer], 'run')
      const [cursor] = await em.execute<{ tx: string; last_id: string }[]>(
        'select tx_id::text as tx, last_id from core_event_cursor where consumer = ? for update',
        [consumer],
        'all',
      )
      const rows = await em.execute<Row[]>(
        `select *, tx_id::text as tx from core_usage_event
          where (tx_id, id) > (?::xid8, ?::bigint)
            and tx_id < pg_snapshot_xmin(pg_current_snapshot())
          order by tx_id, id limit ?`,
        [cursor.tx, cursor.last_id, limit],
        'all',
      )
      if (rows.length === 0) return 0
      await handler(rows.map(toEvent), em)
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
