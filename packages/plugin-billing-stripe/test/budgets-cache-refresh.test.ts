import t from 'tap'
import { CoreServices, parseUsd } from '@tollgate/core'
import { billingAccountsRef, billingBudgetsRef, billingSettingsRef } from '@tollgate/plugin-billing-stripe'
import { BudgetStore } from '../src/budgets/budget-store.ts'
import { OrgSettingsStore } from '../src/budgets/org-settings.ts'
import { AccountDirectory } from '../src/ledger/account-directory.ts'
import { recordingDatabase } from '../../core/test/support/recording-database.ts'
import { billingGateway, startFakeOpenAI } from './budgets-support.ts'

/** Waits (bounded) until `ready()` holds. */
async function until(ready: () => boolean, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (ready()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return ready()
}

t.test('budgets, settings and personal accounts changed on another instance are re-read in one query for every organization in use', async (t) => {
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  const gw = await billingGateway(fake)
  t.teardown(() => gw.close())
  const budgets = gw.services.get(billingBudgetsRef)
  const settings = gw.services.get(billingSettingsRef)

  // Three organizations with a monthly budget each.
  const orgs: { id: string; userId: string; budgetId: string }[] = []
  for (let i = 0; i < 3; i++) {
    const user = await gw.identity.createUser({ email: `cache-${i}-${Date.now()}@example.test` })
    const b = await budgets.create({ organizationId: user.personalOrganizationId, scope: 'organization', period: 'month', limit: parseUsd('10') })
    orgs.push({ id: user.personalOrganizationId, userId: user.id, budgetId: b.id })
  }

  // "Another instance": its own caches on the same database, with a short TTL.
  const other = recordingDatabase(gw.services.get(CoreServices.database))
  const config = { defaultTimezone: 'UTC', requirePrepaidBalance: true, alerts: { lowBalanceUsd: '5', budgetThresholds: [80, 95, 100] } } as ConstructorParameters<typeof OrgSettingsStore>[1]
  const theirBudgets = new BudgetStore(other.db, { ttlMs: 200 })
  const theirSettings = new OrgSettingsStore(other.db, config, { ttlMs: 200 })
  const theirAccounts = new AccountDirectory(other.db, { personalTtlMs: 200 })
  t.teardown(() => {
    theirBudgets.close()
    theirSettings.close()
    theirAccounts.close()
  })
  for (const o of orgs) {
    t.equal((await theirBudgets.list(o.id))[0].limit, parseUsd('10'))
    t.equal((await theirSettings.get(o.id)).timezone, 'UTC')
    t.equal((await theirAccounts.forMember(o.id, o.userId)).ref.userId, undefined, 'no personal account yet: billed to the organization')
  }

  // This instance changes all three; the other keeps serving its cached values, then sees the changes.
  for (const o of orgs) {
    await budgets.update(o.id, o.budgetId, { limit: parseUsd('25') })
    await settings.update(o.id, { timezone: 'Europe/Paris' })
    await gw.services.get(billingAccountsRef).ensure({ organizationId: o.id, userId: o.userId })
  }
  const before = other.queries.length
  const seen = await until(() =>
    orgs.every(
      (o) =>
        theirBudgets.cached(o.id)?.[0]?.limit === parseUsd('25') &&
        theirSettings.cached(o.id)?.timezone === 'Europe/Paris' &&
        theirAccounts.forMemberCached(o.id, o.userId)?.ref.userId === o.userId,
    ),
  )
  t.ok(seen, 'every change made on the other instance is seen within the TTL')
  const rereads = other.queries.slice(before)
  t.ok(rereads.length > 0, 'the values were re-read')
  for (const q of rereads) {
    const ids = q.params.filter((p) => typeof p === 'string' && orgs.some((o) => o.id === p))
    t.equal(new Set(ids).size, 3, `one query covers all three organizations: ${q.sql.slice(0, 60)}…`)
  }
})
