import Stripe from 'stripe'
import type { Test } from 'tap'
import { createTestGateway, type TestGateway } from '@tollgate/core/testing'
import type { BillingLedger } from '../../src/ledger/ledger-types.ts'
import { billingLedgerRef, billingPlugin } from '../../src/index.ts'
import { FakeStripe, type FakeEvent } from './fake-stripe.ts'

/** The webhook signing secret the tests configure. */
export const WEBHOOK_SECRET = 'whsec_test_secret_for_tollgate'

/** A gateway with the billing plugin talking to a fake Stripe. */
export interface CommerceGateway {
  gw: TestGateway
  stripe: FakeStripe
  ledger: BillingLedger
  /** A Stripe SDK client (for signing webhooks). */
  sdk: Stripe
  /** Calls a billing route with the seeded owner's API key. */
  call(method: string, url: string, body?: unknown, key?: string): Promise<{ status: number; json: any; raw: Buffer; headers: Record<string, unknown> }>
  /** Delivers an event to the webhook endpoint, signed like Stripe does. */
  deliver(event: FakeEvent | string, options?: { secret?: string; timestamp?: number; tamper?: (payload: string) => string }): Promise<{ status: number; json: any }>
}

/** Builds the billing plugin's gateway; the plugin config gets `stripe` pointed at the fake unless `stripe: false`. */
export async function commerceGateway(t: Test, config: Record<string, unknown> = {}, options: { withStripe?: boolean; secretKey?: string; gatewayConfig?: Record<string, unknown> } = {}): Promise<CommerceGateway> {
  const stripe = await new FakeStripe().start()
  t.teardown(() => stripe.close())
  const withStripe = options.withStripe ?? true
  const pluginConfig = {
    ...(withStripe ? { stripe: { secretKey: options.secretKey ?? 'sk_test_123', webhookSecret: WEBHOOK_SECRET, apiHost: '127.0.0.1', apiPort: stripe.port, apiProtocol: 'http' } } : {}),
    usageRollupEveryMs: 50,
    ...config,
  }
  const gw = await createTestGateway({ plugins: [billingPlugin(pluginConfig)], config: options.gatewayConfig as never })
  t.teardown(() => gw.close())
  const ledger: BillingLedger = gw.services.get(billingLedgerRef)
  const sdk = new Stripe('sk_test_123', { host: '127.0.0.1', port: stripe.port, protocol: 'http' })
  const call: CommerceGateway['call'] = async (method, url, body, key = gw.apiKey) => {
    const res = await gw.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    })
    let json: unknown
    try {
      json = res.json()
    } catch {
      json = undefined
    }
    return { status: res.statusCode, json, raw: res.rawPayload, headers: res.headers }
  }
  const deliver: CommerceGateway['deliver'] = async (event, o = {}) => {
    const text = typeof event === 'string' ? event : JSON.stringify(event, null, 2)
    const header = sdk.webhooks.generateTestHeaderString({ payload: text, secret: o.secret ?? WEBHOOK_SECRET, ...(o.timestamp ? { timestamp: o.timestamp } : {}) })
    const res = await gw.app.inject({ method: 'POST', url: '/billing/stripe/webhook', headers: { 'content-type': 'application/json', 'stripe-signature': header }, payload: o.tamper ? o.tamper(text) : text })
    return { status: res.statusCode, json: res.json() }
  }
  return { gw, stripe, ledger, sdk, call, deliver }
}

/** Every test ends with the ledger invariant: each stored balance equals the sum of its entries. */
export async function assertLedgerInvariant(t: Test, ledger: BillingLedger): Promise<void> {
  const v = await ledger.verify()
  t.ok(v.ok, `ledger invariant holds over ${v.accountsChecked} accounts`)
  t.same(v.mismatches, [], 'no account differs from the sum of its entries')
}

/** A deterministic shuffle (so a failure can be replayed with the same seed). */
export function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/** An API key of a platform administrator (in an organization of their own). */
export async function platformAdminKey(gw: TestGateway): Promise<{ key: string; userId: string }> {
  const user = await gw.identity.createUser({ email: `admin-${Math.random().toString(36).slice(2)}@example.test`, name: 'Platform Admin', platformAdmin: true })
  const org = await gw.identity.createOrganization({ name: 'Operator', ownerUserId: user.id })
  const key = await gw.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: user.id, name: 'admin key' })
  return { key: key.secret, userId: user.id }
}

/** A member of the seeded organization with a role and an API key. */
export async function memberKey(gw: TestGateway, role: 'admin' | 'member' | 'viewer' | 'developer'): Promise<{ key: string; userId: string }> {
  const user = await gw.identity.createUser({ email: `${role}-${Math.random().toString(36).slice(2)}@example.test`, name: `A ${role}` })
  await gw.identity.addMember({ organizationId: gw.organizationId, userId: user.id, role, ...(role === 'developer' ? { projectIds: [gw.projectId] } : {}) })
  const key = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: user.id, name: `${role} key` })
  return { key: key.secret, userId: user.id }
}
