import t from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { definePlugin, formatUsd } from '@tollgate/core'
import { type BillingAlert, type BillingEmail, billingControlRef, billingEmailSenderRef, billingLedgerRef } from '@tollgate/plugin-billing-stripe'
import { createTestGateway } from '@tollgate/core/testing'
import { api, assertLedgerInvariant, boundTokens, buyCredits, chat, fakeUpstreamConfig, maxCostFor, MODEL, settleAll, startFakeOpenAI, testBilling } from './budgets-support.ts'

/** A local stand-in for Slack's and Discord's incoming-webhook endpoints, answering like them. */
async function startWebhookSink() {
  const received: { path: string; body: any; contentType?: string }[] = []
  let slackFailuresLeft = 1
  const server = createServer(async (req: IncomingMessage, res) => {
    let raw = ''
    for await (const c of req) raw += c
    if (req.url?.startsWith('/services/') && slackFailuresLeft > 0) {
      // Slack's answer to an outage: a 500 with a plain-text body. The sender must retry.
      slackFailuresLeft--
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal_error')
      return
    }
    received.push({ path: req.url ?? '', body: JSON.parse(raw), contentType: req.headers['content-type'] })
    if (req.url?.startsWith('/services/')) res.writeHead(200, { 'content-type': 'text/html' }).end('ok')
    else res.writeHead(204).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) }
}

t.test('alerts: budget thresholds 50 (custom)/80/95/100 and low balance, once per crossing, as events, emails, Slack and Discord', async (t) => {
  const sink = await startWebhookSink()
  t.teardown(() => sink.close())
  let bounds: { input: number; output: number } | undefined
  const fake = await startFakeOpenAI()
  t.teardown(() => fake.close())
  fake.setScript(() => ({ text: 'ok', usage: { promptTokens: bounds!.input, completionTokens: bounds!.output } }))
  const emails: BillingEmail[] = []
  const mailer = definePlugin({ id: 'test-mailer', register: (host) => host.services.provide(billingEmailSenderRef, { send: async (e) => void emails.push(e) }) })
  const gw = await createTestGateway({ plugins: [mailer({}), testBilling()], config: fakeUpstreamConfig(fake) })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0, host: '127.0.0.1' })
  const events: BillingAlert[] = []
  gw.events.on('billing.alert', (a) => void events.push(a))

  bounds = boundTokens(gw, 'hi', 100)
  const x = maxCostFor(gw, 'hi', 100) // every request costs exactly x
  const settings = await api(url, gw.apiKey, 'PATCH', `/billing/organizations/${gw.organizationId}/settings`, {
    lowBalanceUsd: formatUsd(12n * x),
    alertEmails: ['finance@example.test'],
    slackWebhookUrl: `${sink.url}/services/T000/B000/XXXX`,
    discordWebhookUrl: `${sink.url}/api/webhooks/123/abc`,
    timezone: 'Europe/Paris',
  })
  t.equal(settings.status, 200)
  t.equal(settings.json.timezone, 'Europe/Paris')
  await buyCredits(gw, gw.organizationId, 20n * x, 'initial')
  const bad = await api(url, gw.apiKey, 'PATCH', `/billing/organizations/${gw.organizationId}/settings`, { timezone: 'Mars/Olympus' })
  t.equal(bad.status, 400)
  t.equal(bad.json.error.code, 'TOLLGATE_ERR_BILLING_INVALID_TIMEZONE')
  const budget = await api(url, gw.apiKey, 'POST', `/billing/organizations/${gw.organizationId}/budgets`, { scope: 'organization', period: 'day', limitUsd: formatUsd(10n * x), alertThresholds: [50, 80, 95, 100] })
  t.equal(budget.status, 201)

  for (let i = 0; i < 11; i++) {
    const r = await chat(url, gw.apiKey, { model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
    t.equal(r.status, i < 10 ? 200 : 429, `request ${i + 1} ${i < 10 ? 'served' : 'refused by the daily budget'}`)
    await settleAll(gw)
  }
  await gw.services.get(billingControlRef).alertsIdle()

  const budgetAlerts = events.filter((e) => e.kind === 'budget_threshold')
  t.same(budgetAlerts.map((e) => (e.kind === 'budget_threshold' ? e.percent : 0)), [50, 80, 95, 100], 'each threshold fired once, in order')
  const low = events.filter((e) => e.kind === 'low_balance')
  t.equal(low.length, 1, 'the low balance fired once for this crossing (after the 9th request) however many debits followed')

  // Back above the threshold re-arms the alert; the next crossing alerts again.
  await buyCredits(gw, gw.organizationId, 10n * x, 'topup')
  await gw.services.get(billingLedgerRef).post({ account: { organizationId: gw.organizationId }, type: 'adjustment', amount: -9n * x, idempotencyKey: 'adj-1', description: 'correction' })
  await gw.services.get(billingControlRef).alertsIdle()
  t.equal(events.filter((e) => e.kind === 'low_balance').length, 2, 'a second crossing fires a second alert')

  t.equal(emails.length, events.length, 'every alert was emailed through the pluggable sender')
  t.same(emails[0].to, ['finance@example.test'])
  const slack = sink.received.filter((r) => r.path.startsWith('/services/'))
  const discord = sink.received.filter((r) => r.path.startsWith('/api/webhooks/'))
  t.equal(slack.length, events.length, 'every alert reached Slack once (the first delivery was retried after a 500)')
  t.equal(discord.length, events.length, 'every alert reached Discord once')
  t.equal(slack[0].contentType, 'application/json')
  // Deliveries run concurrently (and the first Slack one was retried): find the 50 % messages.
  const slack50 = slack.find((r) => /50%/.test(r.body.text))
  const discord50 = discord.find((r) => /50%/.test(r.body.content))
  t.match(slack50?.body, { text: /Budget 50% reached/, blocks: [{ type: 'header' }, { type: 'section', text: { type: 'mrkdwn' } }, { type: 'context' }] }, 'Slack incoming-webhook format')
  t.match(discord50?.body, { content: /Budget 50% reached/, embeds: [{ title: 'Budget 50% reached', description: /organization's daily budget/ }], allowed_mentions: { parse: [] } }, 'Discord webhook format')
  const fired = await gw.db.orm.em.fork().execute<{ n: string }[]>('select count(*)::text as n from billing_alert_fired', [], 'all')
  t.equal(Number(fired[0].n), 5, 'fired crossings are recorded (4 thresholds + the current low-balance crossing)')
  await assertLedgerInvariant(t, gw)
})
