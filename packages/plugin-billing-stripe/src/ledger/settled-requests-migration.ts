import { Migration } from '@mikro-orm/migrations'

/**
 * billing:0004_settled_requests — one row per settled request: which batch debit charged it and
 * what it cost (tokens, market rate, savings).
 *
 * Request settlement writes ONE usage_debit per account per settlement batch instead of one
 * ledger entry per request: a ledger row (six indexes, the balance trigger, a JSON metadata
 * column) per request was the largest database cost of the hot path. This table keeps the
 * per-request detail, and its primary key is what makes settlement exactly once: a request id can
 * be written only once, so a replayed or concurrently written batch debits only the requests that
 * no one settled before (the ledger entry is built from the rows this table accepted).
 * Existing per-request debits are copied in, so requests settled before this migration stay
 * settled. No foreign key to the ledger: the entry is written by the same transaction, and a
 * per-row foreign-key check would cost what the batching saves.
 */
export class BillingSettledRequestsMigration extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table billing_settled_request (
      request_id text primary key,
      entry_id uuid not null,
      account_id uuid not null,
      cost numeric(38,0) not null,
      market_cost numeric(38,0) not null,
      model text,
      input_tokens integer not null default 0,
      output_tokens integer not null default 0,
      cached_read_tokens integer not null default 0,
      cache_write_tokens integer not null default 0,
      streaming boolean not null default false,
      estimated boolean not null default false,
      created_at timestamptz not null default now()
    )`)
    this.addSql('create index billing_settled_request_entry_idx on billing_settled_request (entry_id)')
    this.addSql(`insert into billing_settled_request (request_id, entry_id, account_id, cost, market_cost, model, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, streaming, estimated, created_at)
      select e.reference_id, e.id, e.account_id, -e.amount, coalesce((e.metadata->>'marketCost')::numeric, -e.amount), e.metadata->>'model',
             coalesce((e.metadata->>'inputTokens')::integer, 0), coalesce((e.metadata->>'outputTokens')::integer, 0),
             coalesce((e.metadata->>'cachedReadTokens')::integer, 0), coalesce((e.metadata->>'cacheWriteTokens')::integer, 0),
             coalesce((e.metadata->>'streaming')::boolean, false), coalesce((e.metadata->>'estimated')::boolean, false), e.created_at
        from billing_ledger_entry e
       where e.type = 'usage_debit' and e.reference_kind = 'request' and e.reverses_entry_id is null and e.amount < 0
      on conflict (request_id) do nothing`)
  }
}
