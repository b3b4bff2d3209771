import { randomUUID } from 'node:crypto'
import { PDFDocument } from 'pdf-lib'
import t from 'tap'
import { assertLedgerInvariant, commerceGateway, memberKey, platformAdminKey } from './support/commerce-gateway.ts'

function lastMonth(): { year: number; month: number; at: Date } {
  const now = new Date()
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 15, 12))
  return { year: at.getUTCFullYear(), month: at.getUTCMonth() + 1, at }
}

/** Writes usage events as core would have recorded them (the rollup consumes them like any other). */
async function usageEvents(gw: any, rows: { model: string; input: number; output: number; costUsd: bigint; at: Date; userId?: string; projectId?: string }[]) {
  const em = gw.db.orm.em.fork()
  for (const r of rows) {
    await em.execute(
      `insert into core_usage_event (request_id, occurred_at, organization_id, project_id, user_id, provider, model, input_tokens, output_tokens, cost, market_cost, latency_ms, status, streaming)
       values (?, ?, ?, ?, ?, 'mock', ?, ?, ?, ?, ?, 5, 200, false)`,
      [randomUUID(), r.at.toISOString(), gw.organizationId, r.projectId ?? gw.projectId, r.userId ?? gw.userId, r.model, r.input, r.output, (r.costUsd * 1_000_000_000_000n).toString(), (r.costUsd * 1_500_000_000_000n).toString()],
      'run',
    )
  }
}

async function rolledUp(call: any, org: string, year: number, month: number, requests: number) {
  for (let i = 0; i < 600; i++) {
    const s = await call('GET', `/billing/usage-summaries?organizationId=${org}&year=${year}&month=${month}`)
    if (s.json.summaries[0]?.requests >= requests) return s.json.summaries[0]
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the rollup did not catch up')
}

t.test('monthly invoices: lines per model and credits bought, PDF, prepaid vs Net-30 with overdue, summaries and breakdowns', async (t) => {
  const { gw, ledger, call, stripe, deliver } = await commerceGateway(t)
  const org = gw.organizationId
  const admin = await platformAdminKey(gw)
  const { year, month, at } = lastMonth()
  const alice = await memberKey(gw, 'member')
  await usageEvents(gw, [
    { model: 'gpt-4o-mini', input: 1000, output: 500, costUsd: 2n, at },
    { model: 'gpt-4o-mini', input: 3000, output: 500, costUsd: 3n, at, userId: alice.userId },
    { model: 'claude-haiku', input: 200, output: 100, costUsd: 1n, at },
  ])
  const summary = await rolledUp(call, org, year, month, 3)
  t.equal(summary.tokens, 5300)
  t.equal(summary.totalCostUsd, '6')
  t.equal(summary.marketCostUsd, '9')
  t.equal(summary.savingsUsd, '3')
  t.same(summary.byType.map((b: { name: string; costUsd: string }) => [b.name, b.costUsd]), [['claude-haiku', '1'], ['gpt-4o-mini', '5']])

  const breakdown = await call('GET', `/billing/organizations/${org}/cost-breakdown?year=${year}&month=${month}`)
  t.equal(breakdown.json.totalUsd, '6')
  t.same(breakdown.json.byMember.map((m: { userId: string; costUsd: string }) => [m.userId, m.costUsd]).sort(), [[alice.userId, '3'], [gw.userId, '3']].sort())
  t.equal(breakdown.json.byProject[0].name, 'default')
  t.equal(breakdown.json.byModel[0].model, 'gpt-4o-mini')
  t.equal(breakdown.json.total_usd, 6)
  t.equal(breakdown.json.by_service.ai_service.llm_cost, 6)
  t.equal(breakdown.json.by_user.length, 2)

  // A purchase, moved into last month the way the clock would have placed it.
  const started = await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'growth' })
  for (const e of stripe.completeCheckout(started.json.sessionId)) await deliver(e)
  await gw.db.orm.em.fork().execute("update billing_payment set succeeded_at = ? where organization_id = ?", [at.toISOString(), org], 'run')

  t.equal((await call('POST', `/billing/organizations/${org}/invoices`, { year, month })).status, 403, 'only the operator issues invoices by hand')
  const now = new Date()
  const current = await call('POST', `/billing/organizations/${org}/invoices`, { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 }, admin.key)
  t.equal(current.status, 400, 'a month that has not ended cannot be invoiced')
  const issued = await call('POST', `/billing/organizations/${org}/invoices`, { year, month }, admin.key)
  t.equal(issued.status, 201, JSON.stringify(issued.json))
  const inv = issued.json
  t.equal(inv.status, 'paid', 'a prepaid organization has paid already')
  t.equal(inv.amountUsd, '50', 'the total is what it paid for credits')
  t.equal(inv.dueDate, inv.issuedAt.slice(0, 10))
  t.same(inv.lines.map((l: { kind: string; description: string; amountUsd: string }) => [l.kind, l.amountUsd]), [
    ['model', '1'],
    ['model', '5'],
    ['credits', '50'],
  ])
  t.match(inv.lines[1].description, /gpt-4o-mini \(2 requests\)/)
  t.equal(inv.lines[1].quantity, '5000')
  t.equal((await call('POST', `/billing/organizations/${org}/invoices`, { year, month }, admin.key)).status, 200, 'issuing again returns the same invoice')

  const pdf = await call('GET', `/billing/organizations/${org}/invoices/${inv.id}/pdf`)
  t.equal(pdf.status, 200)
  t.equal(pdf.headers['content-type'], 'application/pdf')
  t.equal(pdf.raw.subarray(0, 5).toString(), '%PDF-')
  const doc = await PDFDocument.load(pdf.raw)
  t.equal(doc.getPageCount(), 1)
  t.equal(doc.getTitle(), `Invoice ${inv.number}`)

  // Enterprise, Net-30: billed in arrears for usage, pending until paid, overdue after the due date.
  await call('PUT', `/billing/admin/organizations/${org}/plan`, { plan: 'enterprise', netDays: 30 }, admin.key)
  const prior = new Date(Date.UTC(year, month - 2, 10, 12))
  await usageEvents(gw, [{ model: 'gpt-4o-mini', input: 10, output: 10, costUsd: 7n, at: prior }])
  await rolledUp(call, org, prior.getUTCFullYear(), prior.getUTCMonth() + 1, 1)
  const net = (await call('POST', `/billing/organizations/${org}/invoices`, { year: prior.getUTCFullYear(), month: prior.getUTCMonth() + 1 }, admin.key)).json
  t.equal(net.status, 'pending')
  t.equal(net.amountUsd, '7')
  const sentInvoice = stripe.invoices.get(net.stripeInvoiceId)!
  t.equal(sentInvoice.collection_method, 'send_invoice', 'Stripe sends the Net-30 invoice')
  t.equal(sentInvoice.days_until_due, 30)
  t.equal(sentInvoice.status, 'open')
  t.equal(sentInvoice.amount_due, 700)
  t.equal(sentInvoice.metadata.tollgate_invoice_id, net.id)
  t.equal(net.netDays, 30)
  t.equal(net.dueDate, new Date(Date.parse(net.issuedAt) + 30 * 86_400_000).toISOString().slice(0, 10))
  await gw.db.orm.em.fork().execute("update billing_invoice set due_at = now() - interval '1 day' where id = ?", [net.id], 'run')
  const overdue = await call('GET', `/billing/organizations/${org}/invoices?status=overdue`)
  t.same(overdue.json.invoices.map((i: { id: string }) => i.id), [net.id])
  const byYear = await call('GET', `/billing/organizations/${org}/invoices?year=${year}&month=${month}`)
  t.same(byYear.json.invoices.map((i: { id: string }) => i.id), [inv.id])
  t.equal((await call('POST', `/billing/organizations/${org}/invoices/${net.id}/paid`)).status, 403)
  // The customer pays Stripe's invoice: its webhook (twice) marks ours paid.
  const paidEvents = stripe.payInvoice(net.stripeInvoiceId)
  for (const e of [...paidEvents, ...paidEvents]) t.equal((await deliver(e)).status, 200)
  t.equal((await call('GET', `/billing/organizations/${org}/invoices/${net.id}`)).json.status, 'paid')
  // A platform administrator records an offline payment (wire) for the prepaid one; already paid stays paid.
  const paid = await call('POST', `/billing/organizations/${org}/invoices/${net.id}/paid`, undefined, admin.key)
  t.equal(paid.json.status, 'paid')
  t.equal((await call('GET', `/billing/organizations/${org}/invoices?status=overdue`)).json.invoices.length, 0)
  await assertLedgerInvariant(t, ledger)
})

t.test('metered usage appears in summaries, breakdowns and usage-versus-limits', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t, { devMode: true }, { withStripe: false })
  const org = gw.organizationId
  await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' })
  const rec = await call('POST', '/billing/usage', { meter: 'sql_queries', quantity: 1200, idempotencyKey: 'q-1' })
  t.equal(rec.status, 201, JSON.stringify(rec.json))
  const now = new Date()
  let metrics: any
  for (let i = 0; i < 600; i++) {
    metrics = (await call('GET', `/billing/organizations/${org}/usage-limits`)).json
    if (metrics.queries.used > 0) break
    await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(metrics.queries.used, 1200)
  t.equal(metrics.queries.limit, 10000)
  t.equal(metrics.queries.percentage, 12)
  const breakdown = await call('GET', `/billing/organizations/${org}/cost-breakdown?year=${now.getUTCFullYear()}&month=${now.getUTCMonth() + 1}`)
  t.equal(breakdown.json.byMeter[0].meter, 'sql_queries')
  t.equal(breakdown.json.byMeter[0].quantity, 1200)
  t.ok(Number(breakdown.json.byMeter[0].costUsd) > 0)
  t.equal(breakdown.json.by_service.query_engine.query_cost, Number(breakdown.json.byMeter[0].costUsd))
  await assertLedgerInvariant(t, ledger)
})

t.test('billing permissions: owner/admin, billing contact, member, other organizations, platform admin', async (t) => {
  const { gw, ledger, call } = await commerceGateway(t, { devMode: true }, { withStripe: false })
  const org = gw.organizationId
  const contact = await memberKey(gw, 'member')
  const plain = await memberKey(gw, 'viewer')
  const admin = await memberKey(gw, 'admin')
  const platform = await platformAdminKey(gw)
  const stranger = await gw.identity.createUser({ email: `s-${Math.random().toString(36).slice(2)}@example.test` })
  const strangerOrg = await gw.identity.createOrganization({ name: 'Elsewhere', ownerUserId: stranger.id })
  const strangerKey = (await gw.identity.createApiKey({ organizationId: strangerOrg.id, projectId: strangerOrg.defaultProjectId, ownerUserId: stranger.id, name: 'k' })).secret

  t.equal((await call('GET', `/billing/organizations/${org}/invoices`, undefined, contact.key)).status, 403, 'a member is not a billing contact yet')
  t.equal((await call('PUT', `/billing/organizations/${org}/contacts/${contact.userId}`, undefined, contact.key)).status, 403)
  t.equal((await call('PUT', `/billing/organizations/${org}/contacts/${stranger.id}`)).json.error.field, 'userId', 'a contact must be a member')
  t.equal((await call('PUT', `/billing/organizations/${org}/contacts/${contact.userId}`, undefined, admin.key)).status, 200)
  t.same((await call('GET', `/billing/organizations/${org}/contacts`)).json.contacts.map((c: { userId: string }) => c.userId), [contact.userId])

  // Billing contact: view usage and invoices, manage payment; not the plan, not the contacts.
  t.equal((await call('GET', `/billing/organizations/${org}/invoices`, undefined, contact.key)).status, 200)
  t.equal((await call('GET', `/billing/organizations/${org}/usage-limits`, undefined, contact.key)).status, 200)
  t.equal((await call('GET', `/billing/organizations/${org}/balance`, undefined, contact.key)).status, 200, 'the ledger side admits billing contacts through billing.contacts')
  t.equal((await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' }, contact.key)).status, 200)
  const plan = await call('POST', `/billing/organizations/${org}/subscription`, { plan: 'pro', interval: 'month' }, contact.key)
  t.equal(plan.status, 403)
  t.match(plan.json.error.message, /Billing contacts cannot change the plan/)
  t.equal((await call('DELETE', `/billing/organizations/${org}/contacts/${contact.userId}`, undefined, contact.key)).status, 403)
  // Viewer: nothing. Another organization's owner: not even that it exists.
  t.equal((await call('GET', `/billing/organizations/${org}/invoices`, undefined, plain.key)).status, 403)
  t.equal((await call('GET', `/billing/organizations/${org}/transactions?userId=${plain.userId}`, undefined, plain.key)).status, 200, 'anyone reads their own personal account')
  t.equal((await call('GET', `/billing/organizations/${org}/transactions?userId=${gw.userId}`, undefined, plain.key)).status, 403, 'but not someone else’s')
  t.equal((await call('GET', `/billing/organizations/${org}/invoices`, undefined, strangerKey)).status, 404)
  t.equal((await call('POST', `/billing/organizations/${org}/checkout`, { packageId: 'starter' }, strangerKey)).status, 404)
  // Org admin: everything of its own organization; platform admin: any organization.
  t.equal((await call('POST', `/billing/organizations/${org}/subscription`, { plan: 'pro', interval: 'month' }, admin.key)).status, 200)
  t.equal((await call('GET', `/billing/organizations/${org}/transactions`, undefined, platform.key)).status, 200)
  t.equal((await call('GET', '/billing/usage-summaries')).status, 403, 'all organizations: platform admin only')
  t.equal((await call('GET', '/billing/usage-summaries', undefined, platform.key)).status, 200)
  t.equal((await call('DELETE', `/billing/organizations/${org}/contacts/${contact.userId}`)).status, 200)
  t.equal((await call('GET', `/billing/organizations/${org}/invoices`, undefined, contact.key)).status, 403, 'removed contacts lose access')
  t.equal((await call('GET', `/billing/organizations/${org}/balance`, undefined, contact.key)).status, 403)
  t.equal((await gw.app.inject({ method: 'GET', url: `/billing/organizations/${org}/invoices` })).statusCode, 401)
  await assertLedgerInvariant(t, ledger)
})
