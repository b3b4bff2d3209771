import { randomUUID } from 'node:crypto'
import { type Database, TollgateError, type TxEntityManager } from '@tollgate/core'
import { AccountDirectory } from './account-directory.js'
import { sql } from './sql-exec.js'
import { type LedgerEntryRow, big, entryFromRow } from './ledger-rows.js'
import {
  type BillingLedger,
  LEDGER_TX_TYPES,
  type LedgerAccountRef,
  type LedgerActor,
  type LedgerEntry,
  type LedgerTxType,
  type LedgerVerification,
  type PostLedgerEntry,
  type PostResult,
  type RequestSettlement,
} from './ledger-types.js'

/** An entry ready to insert, account already resolved. */
export type EntryDraft = Omit<PostLedgerEntry, 'account'> & { accountId: string; organizationId: string; userId?: string; /** The entry's id, when the caller needs it before the insert (else a new one). */ id?: string }

/** Called after entries were written (alerts, lease bookkeeping). */
export type PostedListener = (entries: LedgerEntry[]) => void

const TYPES = new Set<string>(LEDGER_TX_TYPES)
const MAX_KEY = 255
const HISTORY_MAX = 500

/**
 * One INSERT for any number of entries, the rows as one JSON parameter of positional arrays,
 * in the order given (so `seq`, drawn from its sequence per row, follows it). The statement
 * trigger checks every balance_after and applies the amounts to the accounts.
 */
const INSERT_SQL = `insert into billing_ledger_entry (id, account_id, organization_id, user_id, type, amount, balance_after, idempotency_key, description, reference_kind, reference_id, actor_type, actor_id, reverses_entry_id, metadata)
  select (r->>0)::uuid, (r->>1)::uuid, (r->>2)::uuid, (r->>3)::uuid, r->>4, (r->>5)::numeric, (r->>14)::numeric, r->>6, r->>7, r->>8, r->>9, r->>10, r->>11,
         (r->>12)::uuid, nullif(r->13, 'null'::jsonb)
    from jsonb_array_elements($1::jsonb) with ordinality as e(r, n) order by n
  on conflict (account_id, idempotency_key) do nothing
  returning `

/**
 * What a batch insert reads back: only what the database decides (which rows were written, and
 * when). The rest of each entry is known from its draft, so the settlement path does not
 * parse a dozen text columns per request back out of the driver.
 */
const RETURN_LIGHT = 'id, created_at'

/** The columns of RETURN_LIGHT. */
interface LightRow {
  id: string
  created_at: Date | string
}

function asEm(em: unknown): TxEntityManager | undefined {
  return em as TxEntityManager | undefined
}

/**
 * The credit ledger on PostgreSQL/PGlite. Writes go through one INSERT whose trigger keeps the
 * account balance; reads never lock. `insertMany` is the batch path used by settlement.
 */
export class SqlLedger implements BillingLedger {
  readonly #db: Database
  readonly accounts: AccountDirectory
  readonly #listeners: PostedListener[] = []

  constructor(db: Database, accounts?: AccountDirectory) {
    this.#db = db
    this.accounts = accounts ?? new AccountDirectory(db)
  }

  /** Registers a listener told about every written entry (after the write; before commit when the caller's transaction was used). */
  onPosted(listener: PostedListener): void {
    this.#listeners.push(listener)
  }

  /** Tells the listeners about entries written in a transaction that has committed. */
  notify(entries: LedgerEntry[]): void {
    if (entries.length === 0) return
    for (const l of this.#listeners) l(entries)
  }

  async post(entry: PostLedgerEntry, em?: unknown): Promise<PostResult> {
    validateEntry(entry)
    const run = async (tx: TxEntityManager): Promise<PostResult> => {
      const accountId = await this.accounts.ensure(entry.account, tx)
      const draft: EntryDraft = { ...entry, accountId, organizationId: entry.account.organizationId, userId: entry.account.userId }
      const [inserted] = await this.insertMany([draft], tx, { full: true })
      if (inserted.length === 1) return { entry: inserted[0], duplicate: false }
      const existing = await this.#byKey(accountId, entry.idempotencyKey, tx)
      if (!existing) throw new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', 'ledger entry neither inserted nor found')
      if (existing.amount !== entry.amount || existing.type !== entry.type) {
        throw new TollgateError('TOLLGATE_ERR_BILLING_IDEMPOTENCY_CONFLICT', `idempotencyKey "${entry.idempotencyKey}" was already used for a ${existing.type} of ${existing.amount} picodollars`, { field: 'idempotencyKey' })
      }
      return { entry: existing, duplicate: true }
    }
    const given = asEm(em)
    if (given) {
      const result = await run(given)
      if (!result.duplicate) this.notify([result.entry])
      return result
    }
    const result = await this.#db.orm.em.fork().transactional(run)
    if (!result.duplicate) this.notify([result.entry])
    return result
  }

  /**
   * Inserts drafts in one statement inside `em`'s transaction. Returns the entries actually
   * written and the drafts skipped as duplicates (their key was used before). Does not notify:
   * the caller does, after its commit.
   */
  async insertMany(drafts: EntryDraft[], em: TxEntityManager, options: { full?: boolean; /** Every key is new (a fresh batch id): skip the look-up of earlier writes. */ newKeys?: boolean } = {}): Promise<[LedgerEntry[], EntryDraft[]]> {
    if (drafts.length === 0) return [[], []]
    // 1. Lock the accounts (id order, as every writer does) and read their balances.
    const accountIds = [...new Set(drafts.map((d) => d.accountId))].sort()
    const locked = await sql<{ id: string; balance: string }>(em, 'select id, balance::text as balance from billing_account where id = any($1::uuid[]) order by id for update', [accountIds])
    const balances = new Map(locked.map((r) => [r.id, big(r.balance)]))
    for (const id of accountIds) if (!balances.has(id)) throw new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', `billing account ${id} does not exist`)
    // 2. Under the locks, every earlier write of these keys has committed: skip them (and repeats in the batch).
    const seen = options.newKeys ? [] : await sql<{ account_id: string; idempotency_key: string }>(
      em,
      `select e.account_id::text as account_id, e.idempotency_key from billing_ledger_entry e
         join jsonb_array_elements($1::jsonb) as k(r) on e.account_id = (k.r->>0)::uuid and e.idempotency_key = k.r->>1`,
      [JSON.stringify(drafts.map((d) => [d.accountId, d.idempotencyKey]))],
    )
    const taken = new Set(seen.map((r) => `${r.account_id}|${r.idempotency_key}`))
    const fresh: EntryDraft[] = []
    const skipped: EntryDraft[] = []
    for (const d of drafts) {
      const key = `${d.accountId}|${d.idempotencyKey}`
      if (taken.has(key)) skipped.push(d)
      else {
        taken.add(key)
        fresh.push(d)
      }
    }
    if (fresh.length === 0) return [[], skipped]
    // 3. Each entry continues its account's balance, in batch order.
    const rows = fresh.map((d) => {
      const after = (balances.get(d.accountId) as bigint) + d.amount
      balances.set(d.accountId, after)
      return [
        d.id ?? randomUUID(),
        d.accountId,
        d.organizationId,
        d.userId ?? null,
        d.type,
        d.amount.toString(),
        d.idempotencyKey,
        d.description ?? null,
        d.reference?.kind ?? null,
        d.reference?.id ?? null,
        d.actor?.type ?? null,
        d.actor?.id ?? null,
        d.reversesEntryId ?? null,
        d.metadata ?? null,
        after.toString(),
      ]
    })
    let written: LedgerEntryRow[] | LightRow[]
    try {
      written = await sql<LedgerEntryRow | LightRow>(em, INSERT_SQL + (options.full ? '*' : RETURN_LIGHT), [JSON.stringify(rows)])
    } catch (err) {
      if (/billing_ledger_entry_reverses_uq/.test(String((err as Error).message))) {
        throw new TollgateError('TOLLGATE_ERR_BILLING_ALREADY_REVERSED', 'The entry has already been reversed', { field: 'reversesEntryId', cause: err })
      }
      throw err
    }
    if (options.full) return [(written as LedgerEntryRow[]).map(entryFromRow), skipped]
    // Light read-back: rebuild each written entry from its draft (same values the row holds).
    const byId = new Map<string, number>()
    for (let i = 0; i < rows.length; i++) byId.set(rows[i][0] as string, i)
    const entries: LedgerEntry[] = []
    for (const w of written as LightRow[]) {
      const i = byId.get(w.id)
      if (i === undefined) continue
      const d = fresh[i]
      entries.push({
        id: w.id,
        accountId: d.accountId,
        organizationId: d.organizationId,
        ...(d.userId ? { userId: d.userId } : {}),
        type: d.type,
        amount: d.amount,
        balanceAfter: BigInt(rows[i][14] as string),
        idempotencyKey: d.idempotencyKey,
        ...(d.description !== undefined ? { description: d.description } : {}),
        ...(d.reference ? { reference: d.reference } : {}),
        ...(d.actor ? { actor: d.actor } : {}),
        ...(d.reversesEntryId ? { reversesEntryId: d.reversesEntryId } : {}),
        ...(d.metadata ? { metadata: d.metadata } : {}),
        createdAt: w.created_at instanceof Date ? w.created_at : new Date(w.created_at),
      })
    }
    return [entries, skipped]
  }

  async reverse(entryId: string, idempotencyKey: string, reason: string, actor?: LedgerActor, em?: unknown): Promise<PostResult> {
    const run = async (tx: TxEntityManager): Promise<PostResult> => {
      const [row] = await tx.execute<LedgerEntryRow[]>('select * from billing_ledger_entry where id = ?', [entryId], 'all')
      if (!row) throw new TollgateError('TOLLGATE_ERR_BILLING_ENTRY_NOT_FOUND', `Ledger entry ${entryId} does not exist`, { field: 'entryId' })
      const original = entryFromRow(row)
      return this.post(
        {
          account: { organizationId: original.organizationId, ...(original.userId ? { userId: original.userId } : {}) },
          type: original.type,
          amount: -original.amount,
          idempotencyKey,
          description: reason,
          reference: original.reference,
          actor,
          reversesEntryId: original.id,
        },
        tx,
      )
    }
    const given = asEm(em)
    return given ? run(given) : this.#db.orm.em.fork().transactional(run)
  }

  async balance(account: LedgerAccountRef, em?: unknown): Promise<bigint> {
    const tx = asEm(em) ?? this.#db.orm.em.fork()
    const rows = await tx.execute<{ balance: string }[]>(
      'select balance from billing_account where organization_id = ? and user_id is not distinct from ?',
      [account.organizationId, account.userId ?? null],
      'all',
    )
    return rows.length > 0 ? big(rows[0].balance) : 0n
  }

  async history(
    account: LedgerAccountRef,
    query: { types?: LedgerTxType[]; from?: Date; to?: Date; limit?: number; cursor?: string } = {},
  ): Promise<{ entries: LedgerEntry[]; nextCursor?: string }> {
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 50)), HISTORY_MAX)
    const where = ['a.organization_id = ?', 'a.user_id is not distinct from ?']
    const params: unknown[] = [account.organizationId, account.userId ?? null]
    if (query.types && query.types.length > 0) {
      for (const t of query.types) if (!TYPES.has(t)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `types: "${t}" is not a ledger transaction type`, { field: 'types' })
      where.push(`e.type in (${query.types.map(() => '?').join(',')})`)
      params.push(...query.types)
    }
    if (query.from) {
      where.push('e.created_at >= ?')
      params.push(query.from)
    }
    if (query.to) {
      where.push('e.created_at < ?')
      params.push(query.to)
    }
    if (query.cursor) {
      const seq = decodeCursor(query.cursor)
      where.push('e.seq < ?')
      params.push(seq)
    }
    params.push(limit + 1)
    const rows = await this.#db.orm.em
      .fork()
      .execute<LedgerEntryRow[]>(
        `select e.* from billing_ledger_entry e join billing_account a on a.id = e.account_id where ${where.join(' and ')} order by e.seq desc limit ?`,
        params,
        'all',
      )
    const page = rows.slice(0, limit)
    const nextCursor = rows.length > limit ? Buffer.from(`seq:${page[page.length - 1].seq}`).toString('base64url') : undefined
    return { entries: page.map(entryFromRow), ...(nextCursor ? { nextCursor } : {}) }
  }

  async verify(account?: LedgerAccountRef): Promise<LedgerVerification> {
    const em = this.#db.orm.em.fork()
    const filter = account ? 'where a.organization_id = ? and a.user_id is not distinct from ?' : ''
    const params = account ? [account.organizationId, account.userId ?? null] : []
    // Balance against the sum, and every entry's balance_after against the running sum in seq order.
    const rows = await em.execute<{ id: string; organization_id: string; user_id: string | null; balance: string; sum: string; broken: string | number }[]>(
      `select a.id, a.organization_id, a.user_id, a.balance::text as balance, coalesce(s.sum, 0)::text as sum, coalesce(s.broken, 0) as broken
         from billing_account a
         left join (
           select account_id, sum(amount) as sum, count(*) filter (where running <> balance_after) as broken
             from (select account_id, amount, balance_after, sum(amount) over (partition by account_id order by seq) as running from billing_ledger_entry) x
            group by account_id
         ) s on s.account_id = a.id
         ${filter}`,
      params,
      'all',
    )
    const mismatches: LedgerVerification['mismatches'] = []
    const brokenEntries: { accountId: string; entries: number }[] = []
    for (const r of rows) {
      const balance = big(r.balance)
      const sum = big(r.sum)
      if (balance !== sum) mismatches.push({ accountId: r.id, organizationId: r.organization_id, ...(r.user_id ? { userId: r.user_id } : {}), balance, sum })
      if (Number(r.broken) > 0) brokenEntries.push({ accountId: r.id, entries: Number(r.broken) })
    }
    return { ok: mismatches.length === 0 && brokenEntries.length === 0, accountsChecked: rows.length, mismatches, brokenEntries }
  }

  async settledRequest(requestId: string): Promise<RequestSettlement | undefined> {
    const rows = await this.#db.orm.em
      .fork()
      .execute<SettledRow[]>(
        'select request_id, entry_id, account_id, cost::text as cost, market_cost::text as market_cost, model, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, streaming, estimated, created_at from billing_settled_request where request_id = ?',
        [requestId],
        'all',
      )
    if (rows.length === 0) return undefined
    const r = rows[0]
    const cost = big(r.cost)
    const marketCost = big(r.market_cost)
    return {
      requestId: r.request_id,
      entryId: r.entry_id,
      accountId: r.account_id,
      cost,
      marketCost,
      savings: marketCost > cost ? marketCost - cost : 0n,
      ...(r.model !== null ? { model: r.model } : {}),
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      cachedReadTokens: r.cached_read_tokens,
      cacheWriteTokens: r.cache_write_tokens,
      streaming: r.streaming,
      estimated: r.estimated,
      settledAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
    }
  }

  async #byKey(accountId: string, key: string, em: TxEntityManager): Promise<LedgerEntry | undefined> {
    const rows = await em.execute<LedgerEntryRow[]>('select * from billing_ledger_entry where account_id = ? and idempotency_key = ?', [accountId, key], 'all')
    return rows.length > 0 ? entryFromRow(rows[0]) : undefined
  }
}

/** A billing_settled_request row. */
interface SettledRow {
  request_id: string
  entry_id: string
  account_id: string
  cost: string
  market_cost: string
  model: string | null
  input_tokens: number
  output_tokens: number
  cached_read_tokens: number
  cache_write_tokens: number
  streaming: boolean
  estimated: boolean
  created_at: Date | string
}

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString()
  const m = /^seq:(\d{1,19})$/.exec(text)
  if (!m) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'cursor is not a cursor returned by this endpoint', { field: 'cursor' })
  return m[1]
}

function validateEntry(entry: PostLedgerEntry): void {
  if (!TYPES.has(entry.type)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `type: "${entry.type}" is not a ledger transaction type`, { field: 'type' })
  if (typeof entry.amount !== 'bigint' || entry.amount === 0n) throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_AMOUNT', 'amount must be a non-zero bigint of picodollars', { field: 'amount' })
  if (entry.amount > 10n ** 36n || entry.amount < -(10n ** 36n)) throw new TollgateError('TOLLGATE_ERR_BILLING_INVALID_AMOUNT', 'amount is out of range', { field: 'amount' })
  if (typeof entry.idempotencyKey !== 'string' || entry.idempotencyKey.length === 0 || entry.idempotencyKey.length > MAX_KEY) {
    throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `idempotencyKey must be 1–${MAX_KEY} characters`, { field: 'idempotencyKey' })
  }
  if (!entry.account?.organizationId) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'account.organizationId is required', { field: 'account.organizationId' })
}
