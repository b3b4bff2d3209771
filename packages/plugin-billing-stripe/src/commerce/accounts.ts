import type { PluginHost } from '@tollgate/core'
import { billingAccountsRef } from '../ledger/ledger-service.js'
import type { LedgerAccountRef } from '../ledger/ledger-types.js'

/** A stable text key of a credit account: the organization id, or `<org>:<user>` for a personal account. */
export function accountKey(account: LedgerAccountRef): string {
  return account.userId ? `${account.organizationId}:${account.userId}` : account.organizationId
}

/** The account a key names. */
export function accountFromKey(key: string): LedgerAccountRef {
  const [organizationId, userId] = key.split(':')
  return userId ? { organizationId, userId } : { organizationId }
}

/** The account of a row holding organization_id and user_id columns. */
export function accountOfRow(row: { organization_id: string; user_id: string | null }): LedgerAccountRef {
  return row.user_id ? { organizationId: row.organization_id, userId: row.user_id } : { organizationId: row.organization_id }
}

/**
 * Makes sure the account row exists, committed, before a transaction of ours posts to it. The
 * ledger creates accounts on first post; creating one inside a webhook transaction that may be
 * retried (a lost race with a duplicate delivery rolls it back) would race other transactions
 * posting to the same new account.
 */
export async function ensureAccountCommitted(host: PluginHost, account: LedgerAccountRef): Promise<void> {
  await host.services.find(billingAccountsRef)?.ensure(account)
}
