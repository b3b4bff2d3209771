import { randomBytes } from 'node:crypto'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local Stripe API for tests: the endpoints the billing plugin calls, speaking Stripe's wire
 * format (form-encoded bracket-notation requests, JSON objects with `object` tags, `list`
 * envelopes, `{ error: { type, code, message } }` errors with their HTTP statuses, Idempotency-Key
 * replay). It also plays the Stripe side of a purchase — completing a Checkout session, failing a
 * card, refunding — and records the events Stripe would send, for the test to deliver as webhooks.
 */

type Obj = Record<string, any>

/** Decodes Stripe's form encoding (`a[b][0][c]=v`) into nested objects and arrays. */
export function decodeForm(body: string): Obj {
  const root: Obj = {}
  for (const pair of body.split('&')) {
    if (!pair) continue
    const [rawKey, rawValue = ''] = pair.split('=')
    const key = decodeURIComponent(rawKey.replace(/\+/g, ' '))
    const value = decodeURIComponent(rawValue.replace(/\+/g, ' '))
    const parts = key.replace(/\]/g, '').split('[')
    let node: Obj = root
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] === '' ? String(Object.keys(node).length) : parts[i]
      if (i === parts.length - 1) node[p] = value
      else node = node[p] ??= {}
    }
  }
  const arrays = (v: unknown): unknown => {
    if (!v || typeof v !== 'object') return v
    const o = v as Obj
    const keys = Object.keys(o)
    if (keys.length > 0 && keys.every((k, i) => k === String(i))) return keys.map((k) => arrays(o[k]))
    for (const k of keys) o[k] = arrays(o[k])
    return o
  }
  return arrays(root) as Obj
}

function id(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`
}

const now = () => Math.floor(Date.now() / 1000)

class StripeError extends Error {
  constructor(
    readonly status: number,
    readonly body: Obj,
  ) {
    super(body.message)
  }
}

function invalid(message: string, param?: string, code = 'parameter_invalid'): StripeError {
  return new StripeError(400, { type: 'invalid_request_error', code, message, ...(param ? { param } : {}) })
}

function missing(kind: string, value: string): StripeError {
  return new StripeError(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${value}'`, param: 'id' })
}

/** A Stripe event as delivered to webhooks. */
export interface FakeEvent {
  id: string
  object: 'event'
  api_version: string
  created: number
  data: { object: Obj; previous_attributes?: Obj }
  livemode: false
  pending_webhooks: number
  request: { id: string | null; idempotency_key: string | null }
  type: string
}

/** The fake Stripe server and its state. */
export class FakeStripe {
  readonly customers = new Map<string, Obj>()
  readonly sessions = new Map<string, Obj>()
  readonly paymentIntents = new Map<string, Obj>()
  readonly charges = new Map<string, Obj>()
  readonly refunds = new Map<string, Obj>()
  readonly subscriptions = new Map<string, Obj>()
  readonly invoices = new Map<string, Obj>()
  readonly paymentMethods = new Map<string, Obj>()
  readonly portalSessions = new Map<string, Obj>()
  readonly events: FakeEvent[] = []
  /** Every request received: method, path, form body, headers. */
  readonly requests: { method: string; path: string; body: Obj; headers: IncomingMessage['headers'] }[] = []
  /** Payment methods whose off-session charges are declined. */
  readonly declining = new Set<string>()
  readonly #idempotent = new Map<string, { status: number; body: string }>()
  #server?: Server
  port = 0

  /** Starts listening on 127.0.0.1 (port 0). */
  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as AddressInfo).port
    return this
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve())
  }

  /** Records an event the way Stripe would emit it. */
  emit(type: string, object: Obj, previous?: Obj): FakeEvent {
    const event: FakeEvent = {
      id: id('evt'),
      object: 'event',
      api_version: '2026-10-28.endive',
      created: now(),
      data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: id('req'), idempotency_key: null },
      type,
    }
    this.events.push(event)
    return event
  }

  /** Events recorded since index `from`. */
  eventsSince(from: number): FakeEvent[] {
    return this.events.slice(from)
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const raw = Buffer.concat(chunks).toString('utf8')
    const body = req.method === 'GET' || req.method === 'DELETE' ? decodeForm(url.search.slice(1)) : decodeForm(raw)
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, body, headers: req.headers })
    const send = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), 'stripe-version': String(req.headers['stripe-version'] ?? '') })
      res.end(text)
    }
    if (!String(req.headers.authorization ?? '').startsWith('Bearer sk_test_')) {
      send(401, JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }))
      return
    }
    const key = req.method === 'POST' ? req.headers['idempotency-key'] : undefined
    const cacheKey = typeof key === 'string' ? `${url.pathname}|${key}` : undefined
    if (cacheKey && this.#idempotent.has(cacheKey)) {
      const hit = this.#idempotent.get(cacheKey)!
      res.setHeader('idempotent-replayed', 'true')
      send(hit.status, hit.body)
      return
    }
    let status = 200
    let out: string
    try {
      out = JSON.stringify(this.route(req.method ?? 'GET', url.pathname, body))
    } catch (err) {
      if (!(err instanceof StripeError)) throw err
      status = err.status
      out = JSON.stringify({ error: err.body })
    }
    if (cacheKey) this.#idempotent.set(cacheKey, { status, body: out })
    send(status, out)
  }

  route(method: string, path: string, b: Obj): Obj {
    const seg = path.split('/').filter(Boolean)
    if (seg[0] !== 'v1') throw missing('endpoint', path)
    const [, a, c, d] = seg
    const get = <T extends Obj>(map: Map<string, T>, kind: string, key: string): T => {
      const found = map.get(key)
      if (!found) throw missing(kind, key)
      return found
    }
    if (a === 'customers') {
      if (method === 'POST' && !c) return this.createCustomer(b)
      if (method === 'GET' && c) return get(this.customers, 'customer', c)
      if (method === 'POST' && c) return Object.assign(get(this.customers, 'customer', c), { ...b, metadata: { ...get(this.customers, 'customer', c).metadata, ...(b.metadata ?? {}) } })
    }
    if (a === 'checkout' && c === 'sessions') {
      if (method === 'POST' && !d) return this.createSession(b)
      if (method === 'GET' && d) return get(this.sessions, 'checkout.session', d)
    }
    if (a === 'payment_intents') {
      if (method === 'POST' && !c) return this.createPaymentIntent(b)
      if (method === 'GET' && c) return get(this.paymentIntents, 'payment_intent', c)
    }
    if (a === 'refunds') {
      if (method === 'POST' && !c) return this.createRefund(b)
      if (method === 'GET' && c) return get(this.refunds, 'refund', c)
      if (method === 'GET' && !c) {
        const data = [...this.refunds.values()].filter((r) => !b.payment_intent || r.payment_intent === b.payment_intent)
        return { object: 'list', data, has_more: false, url: '/v1/refunds' }
      }
    }
    if (a === 'subscriptions') {
      if (method === 'GET' && c) return get(this.subscriptions, 'subscription', c)
      if (method === 'POST' && c) return this.updateSubscription(get(this.subscriptions, 'subscription', c), b)
      if (method === 'DELETE' && c) return this.cancelSubscription(get(this.subscriptions, 'subscription', c))
    }
    if (a === 'invoiceitems' && method === 'POST' && !c) return this.createInvoiceItem(b)
    if (a === 'invoices') {
      if (method === 'POST' && !c) return this.createInvoice(b)
      if (method === 'POST' && c && d === 'finalize') return this.finalizeInvoice(get(this.invoices, 'invoice', c))
      if (method === 'POST' && c && d === 'send') return get(this.invoices, 'invoice', c)
      if (method === 'GET' && c) return get(this.invoices, 'invoice', c)
      if (method === 'GET' && !c) return { object: 'list', data: [...this.invoices.values()].filter((i) => !b.customer || i.customer === b.customer), has_more: false, url: '/v1/invoices' }
    }
    if (a === 'events') {
      if (method === 'GET' && c) return get(new Map(this.events.map((e) => [e.id, e as Obj])), 'event', c)
      if (method === 'GET' && !c) return { object: 'list', data: [...this.events].reverse().slice(0, Number(b.limit ?? 10)), has_more: false, url: '/v1/events' }
    }
    if (a === 'billing_portal' && c === 'sessions' && method === 'POST') {
      const customer = get(this.customers, 'customer', b.customer)
      const s = { id: id('bps'), object: 'billing_portal.session', created: now(), customer: customer.id, livemode: false, return_url: b.return_url ?? null, url: `https://billing.stripe.test/p/session/${id('test')}` }
      this.portalSessions.set(s.id, s)
      return s
    }
    throw invalid(`Unrecognized request URL (${method}: ${path})`, undefined, 'resource_missing')
  }

  createCustomer(b: Obj): Obj {
    const c = { id: id('cus'), object: 'customer', created: now(), email: b.email ?? null, name: b.name ?? null, metadata: b.metadata ?? {}, invoice_settings: { default_payment_method: null }, livemode: false }
    this.customers.set(c.id, c)
    return c
  }

  createSession(b: Obj): Obj {
    if (!['payment', 'subscription', 'setup'].includes(b.mode)) throw invalid('Invalid mode', 'mode')
    if (!b.success_url) throw invalid('Missing required param: success_url.', 'success_url', 'parameter_missing')
    if (b.customer && !this.customers.has(b.customer)) throw missing('customer', b.customer)
    const items: Obj[] = b.line_items ?? []
    if (items.length === 0) throw invalid('line_items is required', 'line_items', 'parameter_missing')
    const amount = items.reduce((s, li) => s + Number(li.price_data?.unit_amount ?? 0) * Number(li.quantity ?? 1), 0)
    const sid = `cs_test_${randomBytes(16).toString('hex')}`
    const s = {
      id: sid,
      object: 'checkout.session',
      amount_subtotal: amount,
      amount_total: amount,
      cancel_url: b.cancel_url ?? null,
      client_reference_id: b.client_reference_id ?? null,
      created: now(),
      currency: items[0]?.price_data?.currency ?? 'usd',
      customer: b.customer ?? null,
      expires_at: now() + 86400,
      livemode: false,
      metadata: b.metadata ?? {},
      mode: b.mode,
      payment_intent: null,
      payment_status: 'unpaid',
      status: 'open',
      subscription: null,
      success_url: b.success_url,
      url: `https://checkout.stripe.test/c/pay/${sid}`,
      // Kept to play the buyer's side later; Stripe does not echo these.
      _payment_intent_data: b.payment_intent_data ?? {},
      _subscription_data: b.subscription_data ?? {},
      _line_items: items,
    }
    this.sessions.set(s.id, s)
    return s
  }

  #paymentMethod(customer: string | null): Obj {
    const pm = { id: id('pm'), object: 'payment_method', type: 'card', customer, card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 }, created: now() }
    this.paymentMethods.set(pm.id, pm)
    return pm
  }

  #succeed(pi: Obj): void {
    const charge = {
      id: id('ch'),
      object: 'charge',
      amount: pi.amount,
      amount_captured: pi.amount,
      amount_refunded: 0,
      captured: true,
      created: now(),
      currency: pi.currency,
      customer: pi.customer,
      metadata: pi.metadata,
      paid: true,
      payment_intent: pi.id,
      payment_method: pi.payment_method,
      refunded: false,
      status: 'succeeded',
    }
    this.charges.set(charge.id, charge)
    Object.assign(pi, { status: 'succeeded', amount_received: pi.amount, latest_charge: charge.id, last_payment_error: null })
    this.emit('charge.succeeded', charge)
    this.emit('payment_intent.succeeded', pi)
  }

  createPaymentIntent(b: Obj): Obj {
    const amount = Number(b.amount)
    if (!Number.isInteger(amount) || amount < 50) throw invalid('Amount must be at least $0.50 usd', 'amount', 'amount_too_small')
    if (b.customer && !this.customers.has(b.customer)) throw missing('customer', b.customer)
    const pi: Obj = {
      id: id('pi'),
      object: 'payment_intent',
      amount,
      amount_received: 0,
      created: now(),
      currency: b.currency ?? 'usd',
      customer: b.customer ?? null,
      description: b.description ?? null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: b.metadata ?? {},
      payment_method: b.payment_method ?? null,
      setup_future_usage: b.setup_future_usage ?? null,
      status: 'requires_payment_method',
    }
    this.paymentIntents.set(pi.id, pi)
    this.emit('payment_intent.created', pi)
    if (b.confirm === 'true') {
      if (!pi.payment_method) throw invalid('You must provide a payment method to confirm', 'payment_method', 'payment_intent_unexpected_state')
      if (this.declining.has(pi.payment_method)) {
        const error = {
          type: 'card_error',
          code: 'card_declined',
          decline_code: 'insufficient_funds',
          message: 'Your card has insufficient funds.',
          payment_method: this.paymentMethods.get(pi.payment_method) ?? { id: pi.payment_method, object: 'payment_method' },
        }
        Object.assign(pi, { status: 'requires_payment_method', last_payment_error: error })
        this.emit('payment_intent.payment_failed', pi)
        throw new StripeError(402, { ...error, payment_intent: pi })
      }
      this.#succeed(pi)
    }
    return pi
  }

  createRefund(b: Obj): Obj {
    const pi = this.paymentIntents.get(b.payment_intent)
    if (!pi) throw missing('payment_intent', b.payment_intent)
    const charge = this.charges.get(pi.latest_charge)
    if (!charge || pi.status !== 'succeeded') throw invalid('This PaymentIntent does not have a successful charge to refund.', 'payment_intent', 'charge_not_refundable')
    const remaining = charge.amount - charge.amount_refunded
    const amount = b.amount === undefined ? remaining : Number(b.amount)
    if (remaining <= 0) throw invalid(`Charge ${charge.id} has already been refunded.`, undefined, 'charge_already_refunded')
    if (amount > remaining) throw invalid(`Refund amount ($${(amount / 100).toFixed(2)}) is greater than unrefunded amount on charge ($${(remaining / 100).toFixed(2)})`, 'amount', 'amount_too_large')
    const refund = { id: id('re'), object: 'refund', amount, charge: charge.id, created: now(), currency: charge.currency, metadata: b.metadata ?? {}, payment_intent: pi.id, reason: b.reason ?? null, status: 'succeeded' }
    this.refunds.set(refund.id, refund)
    charge.amount_refunded += amount
    charge.refunded = charge.amount_refunded === charge.amount
    this.emit('refund.created', refund)
    this.emit('charge.refunded', charge)
    return refund
  }

  /** Plays a failed refund (the bank returned it): Stripe sends refund.failed. */
  failRefund(refundId: string): FakeEvent[] {
    const refund = this.refunds.get(refundId)!
    const charge = this.charges.get(refund.charge)!
    refund.status = 'failed'
    refund.failure_reason = 'expired_or_canceled_card'
    charge.amount_refunded -= refund.amount
    charge.refunded = false
    const start = this.events.length
    this.emit('refund.failed', refund)
    this.emit('refund.updated', refund, { status: 'succeeded' })
    return this.eventsSince(start)
  }

  /** Plays the buyer paying a Checkout session: returns the events Stripe sends. */
  completeCheckout(sessionId: string, options: { declineCard?: boolean } = {}): FakeEvent[] {
    const s = this.sessions.get(sessionId)
    if (!s) throw new Error(`no session ${sessionId}`)
    const start = this.events.length
    const pm = this.#paymentMethod(s.customer)
    if (s.mode === 'payment') {
      const pi = this.createPaymentIntent({ amount: String(s.amount_total), currency: s.currency, customer: s.customer, metadata: s._payment_intent_data.metadata ?? {}, setup_future_usage: s._payment_intent_data.setup_future_usage, payment_method: pm.id })
      s.payment_intent = pi.id
      if (options.declineCard) {
        Object.assign(pi, { last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.', payment_method: pm } })
        this.emit('payment_intent.payment_failed', pi)
        return this.eventsSince(start)
      }
      if (s.customer && pi.setup_future_usage) this.emit('payment_method.attached', pm)
      this.#succeed(pi)
      Object.assign(s, { status: 'complete', payment_status: 'paid' })
      this.emit('checkout.session.completed', s)
      return this.eventsSince(start)
    }
    const item = s._line_items[0]
    const sub = this.#createSubscription(s.customer, item.price, s._subscription_data.metadata ?? {}, pm.id)
    Object.assign(s, { status: 'complete', payment_status: 'paid', subscription: sub.id })
    this.emit('checkout.session.completed', s)
    return this.eventsSince(start)
  }

  /** Expires an open Checkout session. */
  expireCheckout(sessionId: string): FakeEvent[] {
    const s = this.sessions.get(sessionId)!
    const start = this.events.length
    Object.assign(s, { status: 'expired' })
    this.emit('checkout.session.expired', s)
    return this.eventsSince(start)
  }

  #priceObject(price: string): Obj {
    const interval = /year/.test(price) ? 'year' : 'month'
    return { id: price, object: 'price', currency: 'usd', recurring: { interval, interval_count: 1 }, type: 'recurring' }
  }

  #createSubscription(customer: string, price: string, metadata: Obj, pm: string): Obj {
    const start = now()
    const interval = /year/.test(price) ? 'year' : 'month'
    const end = start + (interval === 'year' ? 365 : 30) * 86400
    const sub: Obj = {
      id: id('sub'),
      object: 'subscription',
      cancel_at_period_end: false,
      canceled_at: null,
      created: start,
      customer,
      default_payment_method: pm,
      items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price: this.#priceObject(price), quantity: 1, current_period_start: start, current_period_end: end }], has_more: false },
      latest_invoice: null,
      livemode: false,
      metadata,
      status: 'active',
    }
    this.subscriptions.set(sub.id, sub)
    this.emit('customer.subscription.created', sub)
    this.#invoiceFor(sub, 'subscription_create')
    return sub
  }

  #invoiceFor(sub: Obj, reason: string, paid = true): Obj {
    const item = sub.items.data[0]
    const amount = 4900
    const inv = {
      id: id('in'),
      object: 'invoice',
      amount_due: amount,
      amount_paid: amount,
      attempt_count: 1,
      billing_reason: reason,
      created: now(),
      currency: 'usd',
      customer: sub.customer,
      lines: { object: 'list', data: [{ id: id('il'), object: 'line_item', amount, period: { start: item.current_period_start, end: item.current_period_end } }], has_more: false },
      metadata: {},
      parent: { type: 'subscription_details', subscription_details: { subscription: sub.id, metadata: sub.metadata } },
      period_start: item.current_period_start,
      period_end: item.current_period_end,
      status: paid ? 'paid' : 'open',
    }
    if (!paid) Object.assign(inv, { amount_paid: 0 })
    this.invoices.set(inv.id, inv)
    sub.latest_invoice = inv.id
    this.emit(paid ? 'invoice.paid' : 'invoice.payment_failed', inv)
    return inv
  }

  createInvoice(b: Obj): Obj {
    if (!this.customers.has(b.customer)) throw missing('customer', b.customer)
    if (b.collection_method === 'send_invoice' && !b.days_until_due) throw invalid('days_until_due is required for send_invoice', 'days_until_due', 'parameter_missing')
    const inv: Obj = {
      id: id('in'),
      object: 'invoice',
      amount_due: 0,
      amount_paid: 0,
      attempt_count: 0,
      billing_reason: 'manual',
      collection_method: b.collection_method ?? 'charge_automatically',
      created: now(),
      currency: b.currency ?? 'usd',
      customer: b.customer,
      days_until_due: b.days_until_due ? Number(b.days_until_due) : null,
      description: b.description ?? null,
      due_date: null,
      lines: { object: 'list', data: [], has_more: false },
      metadata: b.metadata ?? {},
      parent: null,
      period_start: now(),
      period_end: now(),
      status: 'draft',
    }
    this.invoices.set(inv.id, inv)
    this.emit('invoice.created', inv)
    return inv
  }

  createInvoiceItem(b: Obj): Obj {
    const inv = this.invoices.get(b.invoice)
    if (!inv) throw missing('invoice', b.invoice)
    if (inv.status !== 'draft') throw invalid('You can only add invoice items to draft invoices.', 'invoice', 'invoice_not_editable')
    const item = { id: id('ii'), object: 'invoiceitem', amount: Number(b.amount), currency: b.currency ?? 'usd', customer: b.customer, description: b.description ?? null, invoice: inv.id }
    inv.lines.data.push({ id: id('il'), object: 'line_item', amount: item.amount, description: item.description })
    inv.amount_due += item.amount
    return item
  }

  finalizeInvoice(inv: Obj): Obj {
    if (inv.status !== 'draft') throw invalid(`This invoice is already finalized`, undefined, 'invoice_not_editable')
    Object.assign(inv, { status: 'open', due_date: inv.days_until_due ? now() + inv.days_until_due * 86400 : null, number: `FAKE-${this.invoices.size}` })
    this.emit('invoice.finalized', inv)
    return inv
  }

  /** Plays the customer paying an open invoice (bank transfer, card on the hosted page). */
  payInvoice(invoiceId: string): FakeEvent[] {
    const inv = this.invoices.get(invoiceId)!
    const start = this.events.length
    Object.assign(inv, { status: 'paid', amount_paid: inv.amount_due, attempt_count: inv.attempt_count + 1 })
    this.emit('invoice.paid', inv)
    return this.eventsSince(start)
  }

  /** Plays the next billing cycle of a subscription: a new period and a paid invoice. */
  renewSubscription(subId: string): FakeEvent[] {
    const sub = this.subscriptions.get(subId)!
    const item = sub.items.data[0]
    const start = this.events.length
    const length = item.current_period_end - item.current_period_start
    item.current_period_start = item.current_period_end
    item.current_period_end += length
    this.emit('customer.subscription.updated', sub)
    this.#invoiceFor(sub, 'subscription_cycle')
    return this.eventsSince(start)
  }

  /** Plays a renewal whose card is declined: the invoice fails and the subscription goes past_due. */
  failRenewal(subId: string): FakeEvent[] {
    const sub = this.subscriptions.get(subId)!
    const start = this.events.length
    const inv = this.#invoiceFor(sub, 'subscription_cycle', false)
    Object.assign(sub, { status: 'past_due', latest_invoice: inv.id })
    this.emit('customer.subscription.updated', sub, { status: 'active' })
    return this.eventsSince(start)
  }

  updateSubscription(sub: Obj, b: Obj): Obj {
    if (b.items) {
      const wanted = b.items[0]
      const item = sub.items.data.find((i: Obj) => i.id === wanted.id)
      if (!item) throw invalid(`Invalid subscription item: ${wanted.id}`, 'items[0][id]')
      item.price = this.#priceObject(wanted.price)
    }
    if (b.cancel_at_period_end !== undefined) sub.cancel_at_period_end = b.cancel_at_period_end === 'true'
    if (b.metadata) sub.metadata = { ...sub.metadata, ...b.metadata }
    this.emit('customer.subscription.updated', sub)
    return sub
  }

  cancelSubscription(sub: Obj): Obj {
    Object.assign(sub, { status: 'canceled', canceled_at: now() })
    this.emit('customer.subscription.deleted', sub)
    return sub
  }
}
