import { createTestGateway } from '@tollgate/core/testing'
import { auditPlugin } from '@tollgate/plugin-audit'
import OpenAI from 'openai'
import t from 'tap'
import { billingLedgerRef, billingPlugin } from '../src/index.ts'

/**
 * Data retention is billed: with the audit plugin keeping an organization's bodies, the tokens it
 * stores reach billing's `stored_tokens` meter in the same transaction that stores them.
 */
t.test('stored tokens of retained bodies are metered once, at the data-retention price', async (t) => {
  const gw = await createTestGateway({ plugins: [auditPlugin({ retention: { defaultMode: 'retain' } }), billingPlugin({ requirePrepaidBalance: false })] })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const openai = new OpenAI({ apiKey: gw.apiKey, baseURL: `${url}/v1`, maxRetries: 0 })
  await openai.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'keep this prompt for the record' }] })
  await openai.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'and this one' }] })

  const sql = <T>(text: string, params: unknown[] = []) => gw.db.orm.em.fork().execute<T[]>(text, params, 'all')
  let stored = 0
  for (let i = 0; i < 300 && stored === 0; i++) {
    const [row] = await sql<{ n: number; tokens: string | null }>('select count(*)::int as n, sum(stored_tokens)::text as tokens from audit_request_body')
    if (row.n >= 2) stored = Number(row.tokens)
    else await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(stored > 0, `the audit plugin stored both bodies (${stored} tokens)`)
  const events = await sql<{ quantity_micro: string; cost: string; organization_id: string }>("select quantity_micro::text, cost::text, organization_id from billing_meter_event where meter = 'stored_tokens'")
  t.ok(events.length >= 1, 'metered')
  t.ok(events.every((e) => e.organization_id === gw.organizationId))
  const quantity = events.reduce((a, e) => a + BigInt(e.quantity_micro), 0n) / 1_000_000n
  t.equal(quantity, BigInt(stored), 'exactly the stored tokens, once')
  // $0.01 per million tokens = 10^4 picodollars per token.
  t.equal(
    events.reduce((a, e) => a + BigInt(e.cost), 0n),
    BigInt(stored) * 10_000n,
    'priced at $0.01 per million tokens',
  )
  const verification = await gw.services.get(billingLedgerRef).verify()
  t.ok(verification.ok, 'ledger invariant holds')
})
