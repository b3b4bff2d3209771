import { createTestGateway } from '@tollgate/core/testing'
import pino from 'pino'
import t from 'tap'
import { accountPoolKey, LeaseManager } from '../src/budgets/lease-pools.ts'
import { billingAccountsRef, billingLedgerRef, billingPlugin } from '../src/index.ts'

/**
 * An instance whose lease validity lapsed (renewal late, e.g. a busy event loop) but whose lease row
 * was never swept still owns its headroom: renewing must not ask the database for the whole amount
 * again (which the balance, all leased to this very instance, cannot give).
 */
t.test('a lapsed but unswept lease is renewed with its headroom kept', async (t) => {
  const gw = await createTestGateway({ plugins: [billingPlugin({})] })
  t.teardown(() => gw.close())
  const ledger = gw.services.get(billingLedgerRef)
  const account = { organizationId: gw.organizationId }
  const balance = 5_000_000n
  await ledger.post({ account, type: 'purchase', amount: balance, idempotencyKey: 'lease-renewal' })
  const accountId = await gw.services.get(billingAccountsRef).ensure(account)

  const leases = new LeaseManager(gw.db, 'renewal-test-instance', { ttlMs: 60_000, sliceRequests: 100, maxShareOfAvailable: 1, idleReturnMs: 60_000, exhaustedRetryMs: 1_000 }, pino({ level: 'silent' }))
  const pool = leases.pool({ kind: 'account', key: accountPoolKey(accountId), accountId })
  const leaseRow = async () =>
    (
      await gw.db.orm.em
        .fork()
        .execute<{ amount: string; expires_at: Date }[]>('select amount::text as amount, expires_at from billing_lease where instance_id = ?', ['renewal-test-instance'], 'all')
    )[0]

  t.equal(await leases.reserve([pool], balance), undefined, 'the whole balance is reserved')
  t.equal((await leaseRow()).amount, balance.toString(), 'leased to this instance')
  leases.release(pool, balance, pool.epoch, 0n)
  t.equal(pool.headroom, balance, 'nothing spent: all of it is headroom again')

  const before = new Date((await leaseRow()).expires_at).getTime()
  pool.validUntil = 0 // the renewal came too late for this instance's own clock
  await new Promise((r) => setTimeout(r, 20))
  t.equal(await leases.reserve([pool], balance), undefined, 'the same amount can be reserved again after renewal')
  const after = await leaseRow()
  t.equal(after.amount, balance.toString(), 'nothing leased twice')
  t.ok(new Date(after.expires_at).getTime() > before, 'the lease row was renewed')
  leases.release(pool, balance, pool.epoch, 0n)
  await leases.close()
  t.ok((await ledger.verify()).ok, 'ledger invariant holds')
})
