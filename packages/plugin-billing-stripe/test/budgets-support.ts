/**
 * Shared helpers of the billing ledger/budget tests: a gateway (or several sharing one database)
 * with the billing plugin in front of the fake OpenAI upstream, credit purchases, requests over
 * real HTTP, and the ledger invariant every test ends with.
 */
import type { Test } from 'tap'
import pino from 'pino'
import { Agent, request } from 'undici'
import { type CanonicalRequest, createGateway, type Gateway, type GatewayOptions } from '@tollgate/core'
import { createTestDatabase, createTestGateway, type TestDatabase, type TestGateway } from '@tollgate/core/testing'
import { billingControlRef, billingLedgerRef, billingPlugin, maxCostOf } from '@tollgate/plugin-billing-stripe'
import { type FakeOpenAI, startFakeOpenAI } from '../../core/test/support/fake-openai.ts'

export { startFakeOpenAI, type FakeOpenAI }

/** $1 per million input tokens, $2 per million output tokens; market rate 1.5/3. */
export const MODEL = 'fake-model'

/** Gateway options pointing the catalog's `fake-model` at a fake OpenAI server. */
export function fakeUpstreamConfig(fake: FakeOpenAI, extra: Partial<GatewayOptions> = {}): Omit<GatewayOptions, 'plugins'> {
  return {
    providers: [{ id: 'fake', kind: 'openai', baseUrl: fake.baseUrl, apiKey: 'sk-upstream', timeouts: { headersMs: 30_000, bodyIdleMs: 30_000 } }],
    models: [
      { name: MODEL, provider: 'fake', prices: { input: '1', output: '2' }, marketPrices: { input: '1.5', output: '3' } },
      { name: 'mock-echo', provider: 'mock', prices: { input: '1', output: '2' }, marketPrices: { input: '1.5', output: '3' } },
    ],
    ...extra,
  }
}

/** Plan limits out of the way: these tests are about balances and budgets, not plans. */
export const UNLIMITED_FREE_PLAN = { free: { limits: { seats: null, requestsPerMonth: null, tokensPerMonth: null, queriesPerMonth: null, storageGb: null } } }

/** Billing options for tests: short flush and worker intervals, no plan limits. */
export function testBilling(extra: Record<string, unknown> = {}) {
  return billingPlugin({ settlement: { flushIntervalMs: 10, workerIntervalMs: 200 }, plans: UNLIMITED_FREE_PLAN, ...extra })
}

/** A gateway with billing in front of the fake upstream, listening on loopback. */
export async function billingGateway(fake: FakeOpenAI, billing: Record<string, unknown> = {}, extra: Partial<GatewayOptions> = {}): Promise<TestGateway & { url: string }> {
  const gw = await createTestGateway({ plugins: [testBilling(billing)], config: fakeUpstreamConfig(fake, extra) })
  const url = await gw.listen({ port: 0, host: '127.0.0.1' })
  return Object.assign(gw, { url })
}

/** Another instance on the same database (a second or third gateway process of one deployment). */
export async function extraInstance(testDb: TestDatabase, fake: FakeOpenAI, billing: Record<string, unknown> = {}): Promise<Gateway & { url: string }> {
  const gw = await createGateway({
    logger: pino({ level: process.env.TOLLGATE_TEST_LOG ?? 'silent' }),
    database: testDb.options,
    security: { providerKeyEncryptionKey: Buffer.alloc(32, 7).toString('base64') },
    usage: { flushIntervalMs: 20 },
    ...fakeUpstreamConfig(fake),
    plugins: [testBilling(billing)],
  })
  const url = await gw.listen({ port: 0, host: '127.0.0.1' })
  return Object.assign(gw, { url })
}

export { createTestDatabase }

/** The canonical form of the test's chat request (what the gateway reserves for). */
export function canonical(text: string, maxTokens: number, stream = false): CanonicalRequest {
  return { model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text }] }], maxTokens, stream, includeUsage: stream, protocol: 'openai', extra: {} }
}

/** The maximum cost the plugin reserves for `canonical(text, maxTokens)`, through its public function. */
export function maxCostFor(gw: Gateway, text: string, maxTokens: number): bigint {
  const model = gw.catalog.get(MODEL)
  if (!model) throw new Error('model missing')
  return maxCostOf(model, canonical(text, maxTokens), 4096).amount
}

/** Input-token bound of a request, as the plugin computes it. */
export function boundTokens(gw: Gateway, text: string, maxTokens: number): { input: number; output: number } {
  const m = maxCostOf(gw.catalog.get(MODEL)!, canonical(text, maxTokens), 4096)
  return { input: m.inputTokens, output: m.outputTokens }
}

/** Credits an organization through the ledger (a purchase). */
export async function buyCredits(gw: Gateway, organizationId: string, amount: bigint, key = `purchase-${Math.random()}`): Promise<void> {
  await gw.services.get(billingLedgerRef).post({ account: { organizationId }, type: 'purchase', amount, idempotencyKey: key })
}

/** Up to 200 keep-alive sockets per gateway: a thousand requests in flight without overflowing the listen backlog. */
const agent = new Agent({ connections: 200, keepAliveTimeout: 10_000 })

/** POST /v1/chat/completions over real HTTP. */
export async function chat(url: string, apiKey: string, body: Record<string, unknown>): Promise<{ status: number; json: any; headers: Record<string, string | string[] | undefined> }> {
  const res = await request(`${url}/v1/chat/completions`, { method: 'POST', dispatcher: agent, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await res.body.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.statusCode, json, headers: res.headers }
}

/** Management/billing API call over real HTTP. */
export async function api(url: string, apiKey: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined }
}

/** Writes every queued charge on each instance, flushes usage events, and settles those no instance wrote. */
export async function settleAll(...gws: Gateway[]): Promise<void> {
  // onComplete runs just after the response is handed to the socket: give it a moment.
  await new Promise((r) => setTimeout(r, 50))
  for (const gw of gws) {
    await gw.services.get(billingControlRef).flush()
    await gw.usageWriter.flush()
  }
  await gws[0].services.get(billingControlRef).settleUsageEvents()
}

/** The invariant every test ends with: every balance equals the sum of its entries (and each entry's balance_after its running sum). */
export async function assertLedgerInvariant(t: Test, gw: Gateway): Promise<void> {
  const v = await gw.services.get(billingLedgerRef).verify()
  t.equal(v.ok, true, `ledger invariant holds over ${v.accountsChecked} account(s)`)
  t.same(v.mismatches, [], 'no balance differs from the sum of its entries')
}

/** Sum of an account's entries read straight from the table. */
export async function ledgerSum(gw: Gateway, organizationId: string): Promise<bigint> {
  const [row] = await gw.db.orm.em
    .fork()
    .execute<{ s: string }[]>('select coalesce(sum(e.amount), 0)::text as s from billing_ledger_entry e join billing_account a on a.id = e.account_id where a.organization_id = ? and a.user_id is null', [organizationId], 'all')
  return BigInt(row.s)
}
