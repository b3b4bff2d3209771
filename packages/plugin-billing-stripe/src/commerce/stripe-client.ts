import Stripe from 'stripe'
import { TollgateError } from '@tollgate/core'
import type { CommerceConfig } from './commerce-config.js'

/** The Stripe SDK client for the configured account (a local server in tests: apiHost/apiPort/apiProtocol). */
export function createStripeClient(config: NonNullable<CommerceConfig['stripe']>): Stripe {
  return new Stripe(config.secretKey, {
    ...(config.apiHost ? { host: config.apiHost } : {}),
    ...(config.apiPort ? { port: config.apiPort } : {}),
    ...(config.apiProtocol ? { protocol: config.apiProtocol } : {}),
    maxNetworkRetries: 2,
    timeout: 20_000,
    appInfo: { name: 'tollgate-billing' },
  })
}

/** Converts a Stripe SDK error into a catalog error that names Stripe's reason. */
export function stripeFailure(err: unknown, what: string): TollgateError {
  const e = err as { type?: string; code?: string; message?: string; statusCode?: number; decline_code?: string }
  if (e?.type === 'StripeCardError') {
    return new TollgateError('TOLLGATE_ERR_PAYMENT_DECLINED', `${what}: the card was declined (${e.decline_code ?? e.code ?? 'card_error'})`, { cause: err })
  }
  return new TollgateError('TOLLGATE_ERR_PAYMENT_PROVIDER_FAILED', `${what}: Stripe answered ${e?.statusCode ?? 'an error'}: ${e?.message ?? String(err)}`, { cause: err })
}
