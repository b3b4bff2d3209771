import { TollgateError } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import type Stripe from 'stripe'
import type { CommerceContext } from '../commerce-context.js'
import { handleStripeEvent } from '../webhook-handlers.js'

/** Largest webhook body accepted (Stripe's events are a few kilobytes). */
const MAX_WEBHOOK_BYTES = 512 * 1024

/**
 * POST /billing/stripe/webhook (no API key: Stripe signs the body instead). The scope replaces
 * the JSON parser with a raw-body one, because the signature covers the exact bytes Stripe sent;
 * re-serialising parsed JSON would not verify. Checked with Stripe's own verifier: HMAC-SHA256
 * with the endpoint secret, and a timestamp no older than the tolerance (300 s by default).
 */
export function webhookRoutes(ctx: CommerceContext) {
  return async (app: FastifyInstance) => {
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_WEBHOOK_BYTES }, (_request, body, done) => done(null, body))
    const processed = ctx.metrics.webhooks
    app.post('/webhook', async (request, reply) => {
      const s = ctx.config.stripe
      if (!s || !ctx.stripe) throw new TollgateError('TOLLGATE_ERR_PAYMENT_NOT_CONFIGURED', 'Stripe webhooks need `stripe` in the billing plugin config')
      const signature = request.headers['stripe-signature']
      if (typeof signature !== 'string' || !Buffer.isBuffer(request.body)) {
        processed.inc({ outcome: 'rejected' })
        throw new TollgateError('TOLLGATE_ERR_PAYMENT_WEBHOOK_INVALID', 'stripe-signature: send the Stripe-Signature header and the raw JSON body', { field: 'stripe-signature' })
      }
      let event: Stripe.Event
      try {
        event = ctx.stripe.webhooks.constructEvent(request.body, signature, s.webhookSecret, s.toleranceSeconds)
      } catch (err) {
        processed.inc({ outcome: 'rejected' })
        throw new TollgateError('TOLLGATE_ERR_PAYMENT_WEBHOOK_INVALID', `stripe-signature: ${(err as Error).message}`, { field: 'stripe-signature', cause: err })
      }
      const outcome = await handleStripeEvent(ctx, event)
      processed.inc({ outcome })
      return reply.code(200).send({ received: true, id: event.id, outcome })
    })
  }
}
