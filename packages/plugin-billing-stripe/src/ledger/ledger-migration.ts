import { Migration } from '@mikro-orm/migrations'

/**
 * billing:0001_ledger — credit accounts and the append-only ledger.
 *
 * The database itself enforces the ledger's rules, so no code path (nor a hand-written SQL
 * statement) can break them:
 * - an entry can never be updated or deleted (row triggers raise; TRUNCATE raises too);
 * - an account's balance changes only through inserted entries: a statement-level trigger (one
 *   per INSERT, however many rows) locks the accounts, checks that every new entry's
 *   `balance_after` continues its account's balance in `seq` order, and adds the amounts; any
 *   other change of `balance` raises;
 * - an idempotency key is unique per account (a duplicate is skipped by ON CONFLICT);
 * - writers lock the account before numbering entries (`seq`), so the running sum in `seq` order
 *   equals each entry's `balance_after` — which is what `verify` checks.
 * Money columns are numeric(38,0) picodollars: bigint would cap a balance at about $9.2 million.
 */
export class BillingLedgerMigration extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table billing_account (
      id uuid primary key,
      organization_id uuid not null,
      user_id uuid,
      balance numeric(38,0) not null default 0,
      leased numeric(38,0) not null default 0 check (leased >= 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`)
    this.addSql('create unique index billing_account_owner_uq on billing_account (organization_id, user_id) nulls not distinct')

    this.addSql('create sequence billing_ledger_entry_seq')
    this.addSql(`create table billing_ledger_entry (
      id uuid primary key,
      seq bigint not null unique default nextval('billing_ledger_entry_seq'),
      account_id uuid not null references billing_account(id),
      organization_id uuid not null,
      user_id uuid,
      type text not null check (type in ('purchase','bonus','usage_debit','adjustment','refund','gift','referral','promotion','auto_topup')),
      amount numeric(38,0) not null check (amount <> 0),
      balance_after numeric(38,0) not null,
      idempotency_key text not null check (length(idempotency_key) between 1 and 255),
      description text,
      reference_kind text,
      reference_id text,
      actor_type text check (actor_type in ('user','api_key','system')),
      actor_id text,
      reverses_entry_id uuid references billing_ledger_entry(id),
      metadata jsonb,
      created_at timestamptz not null default now(),
      unique (account_id, idempotency_key)
    )`)
    this.addSql('create index billing_ledger_entry_account_seq_idx on billing_ledger_entry (account_id, seq desc)')
    this.addSql('create index billing_ledger_entry_org_time_idx on billing_ledger_entry (organization_id, created_at)')
    this.addSql('create index billing_ledger_entry_reference_idx on billing_ledger_entry (reference_kind, reference_id) where reference_kind is not null')
    this.addSql('create unique index billing_ledger_entry_reverses_uq on billing_ledger_entry (reverses_entry_id) where reverses_entry_id is not null')

    this.addSql(`create function billing_ledger_entry_apply() returns trigger language plpgsql as $$
      declare
        bad uuid;
      begin
        -- Lock the statement's accounts (id order, like every writer), then require each new entry
        -- to continue its account: balance_after = balance before + running sum in seq order. A
        -- writer that read a stale balance (or lost a race on an idempotency key) fails here and
        -- retries; nothing inconsistent is ever committed.
        perform 1 from billing_account where id in (select account_id from new_rows) order by id for update;
        select n.id into bad
          from (select r.id, r.balance_after, a.balance + sum(r.amount) over (partition by r.account_id order by r.seq) as expected
                  from new_rows r join billing_account a on a.id = r.account_id) n
         where n.balance_after <> n.expected
         limit 1;
        if bad is not null then
          raise exception 'billing ledger: entry % does not continue its account balance (concurrent write); retry', bad
            using errcode = 'serialization_failure';
        end if;
        perform set_config('billing.ledger_apply', 'on', true);
        update billing_account a set balance = a.balance + s.total, updated_at = now()
          from (select account_id, sum(amount) as total from new_rows group by account_id) s
         where a.id = s.account_id;
        perform set_config('billing.ledger_apply', 'off', true);
        return null;
      end
    $$`)
    this.addSql(`create trigger billing_ledger_entry_apply after insert on billing_ledger_entry
      referencing new table as new_rows for each statement execute function billing_ledger_entry_apply()`)

    this.addSql(`create function billing_ledger_entry_immutable() returns trigger language plpgsql as $$
      begin
        raise exception 'billing ledger entries are append-only: % is not allowed (post a reversal entry instead)', tg_op
          using errcode = 'insufficient_privilege';
      end
    $$`)
    this.addSql(`create trigger billing_ledger_entry_no_change before update or delete on billing_ledger_entry
      for each row execute function billing_ledger_entry_immutable()`)
    this.addSql(`create trigger billing_ledger_entry_no_truncate before truncate on billing_ledger_entry
      for each statement execute function billing_ledger_entry_immutable()`)

    this.addSql(`create function billing_account_guard() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' then
          raise exception 'billing accounts are never deleted' using errcode = 'insufficient_privilege';
        end if;
        if new.balance is distinct from old.balance and coalesce(current_setting('billing.ledger_apply', true), '') <> 'on' then
          raise exception 'billing_account.balance changes only through billing_ledger_entry inserts' using errcode = 'insufficient_privilege';
        end if;
        if new.id <> old.id or new.organization_id <> old.organization_id or new.user_id is distinct from old.user_id then
          raise exception 'billing_account owner columns are immutable' using errcode = 'insufficient_privilege';
        end if;
        return new;
      end
    $$`)
    this.addSql(`create trigger billing_account_guard before update or delete on billing_account
      for each row execute function billing_account_guard()`)
    this.addSql(`create trigger billing_account_no_truncate before truncate on billing_account
      for each statement execute function billing_ledger_entry_immutable()`)
  }
}
