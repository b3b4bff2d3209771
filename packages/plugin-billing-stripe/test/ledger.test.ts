import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { billingLedgerRef, billingPlugin } from '@tollgate/plugin-billing-stripe'

t.test('ledger: post, idempotency, balance, append-only in the database, verify', async (t) => {
  const gw = await createTestGateway({ plugins: [billingPlugin({})] })
  t.teardown(() => gw.close())
  const ledger = gw.services.get(billingLedgerRef)
  const account = { organizationId: gw.organizationId }
  t.equal(await ledger.balance(account), 0n, 'an unwritten account has balance 0')

  const first = await ledger.post({ account, type: 'purchase', amount: 10_000_000_000_000n, idempotencyKey: 'pi_1', reference: { kind: 'stripe_payment_intent', id: 'pi_1' } })
  t.equal(first.duplicate, false)
  t.equal(first.entry.balanceAfter, 10_000_000_000_000n)
  const again = await ledger.post({ account, type: 'purchase', amount: 10_000_000_000_000n, idempotencyKey: 'pi_1' })
  t.equal(again.duplicate, true, 'the same key posts once')
  t.equal(again.entry.id, first.entry.id)
  await t.rejects(ledger.post({ account, type: 'purchase', amount: 5n, idempotencyKey: 'pi_1' }), { code: 'TOLLGATE_ERR_BILLING_IDEMPOTENCY_CONFLICT' })
  await t.rejects(ledger.post({ account, type: 'purchase', amount: 0n, idempotencyKey: 'zero' }), { code: 'TOLLGATE_ERR_BILLING_INVALID_AMOUNT' })

  const debit = await ledger.post({ account, type: 'usage_debit', amount: -3n, idempotencyKey: 'usage:r1' })
  t.equal(debit.entry.balanceAfter, 9_999_999_999_997n)
  t.equal(await ledger.balance(account), 9_999_999_999_997n)

  const em = gw.db.orm.em.fork()
  await t.rejects(em.execute('update billing_ledger_entry set amount = 1 where id = ?', [debit.entry.id], 'run'), /append-only/, 'UPDATE raises in the database')
  await t.rejects(em.execute('delete from billing_ledger_entry where id = ?', [debit.entry.id], 'run'), /append-only/, 'DELETE raises in the database')
  await t.rejects(em.execute('update billing_account set balance = 999', [], 'run'), /only through billing_ledger_entry/, 'balance cannot be set directly')

  const rev = await ledger.reverse(debit.entry.id, 'rev:r1', 'duplicate charge')
  t.equal(rev.entry.amount, 3n)
  t.equal(rev.entry.reversesEntryId, debit.entry.id)
  await t.rejects(ledger.reverse(debit.entry.id, 'rev:r1-again', 'twice'), { code: 'TOLLGATE_ERR_BILLING_ALREADY_REVERSED' })

  const page1 = await ledger.history(account, { limit: 2 })
  t.equal(page1.entries.length, 2)
  t.equal(page1.entries[0].id, rev.entry.id, 'newest first')
  t.ok(page1.nextCursor)
  const page2 = await ledger.history(account, { limit: 2, cursor: page1.nextCursor })
  t.same(page2.entries.map((e) => e.id), [first.entry.id])
  t.same((await ledger.history(account, { types: ['purchase'] })).entries.map((e) => e.id), [first.entry.id])

  const v = await ledger.verify()
  t.equal(v.ok, true)
  t.equal(v.accountsChecked, 1)
})
