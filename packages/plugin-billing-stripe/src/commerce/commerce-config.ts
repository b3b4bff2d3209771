import { parseUsd, type Picodollars } from '@tollgate/core'

/** Picodollars in one US cent: Stripe amounts are whole cents. */
export const PICO_PER_CENT = 10_000_000_000n

/** Limits of an organization plan; null means unlimited. */
export interface PlanLimits {
  tokensPerMonth: number | null
  requestsPerMonth: number | null
  queriesPerMonth: number | null
  storageGb: number | null
  seats: number | null
}

/** A recurring price of a plan: the Stripe Price to subscribe to and its amount for display. */
export interface PlanPrice {
  stripePriceId?: string
  amountUsd: string
}

/** An organization plan (Free, Pro, Enterprise). */
export interface OrgPlan {
  id: 'free' | 'pro' | 'enterprise'
  name: string
  limits: PlanLimits
  prices: { month?: PlanPrice; year?: PlanPrice }
  /** Enterprise organizations are invoiced Net-N instead of paying up front. */
  netDays?: number
  /** Plans that only a platform administrator may assign (custom pricing). */
  assignedByAdmin?: boolean
}

/** A developer plan (Lite, Pro, Max): a personal subscription that grants credits each month. */
export interface DeveloperPlan {
  id: 'lite' | 'pro' | 'max'
  name: string
  monthlyCredits: Picodollars
  prices: { month?: PlanPrice; year?: PlanPrice }
}

/** A credit package bought through Checkout. */
export interface CreditPackage {
  id: string
  name: string
  /** What the buyer pays, in cents. */
  priceCents: number
  /** Credits granted (picodollars), before the bonus. */
  credits: Picodollars
  /** Bonus credits granted on top (picodollars). */
  bonusCredits: Picodollars
}

/** The resolved payments configuration. */
export interface CommerceConfig {
  devMode: boolean
  stripe?: {
    secretKey: string
    webhookSecret: string
    toleranceSeconds: number
    apiHost?: string
    apiPort?: number
    apiProtocol?: 'http' | 'https'
    currency: string
    successUrl: string
    cancelUrl: string
    portalReturnUrl: string
  }
  creditPackages: CreditPackage[]
  plans: Record<OrgPlan['id'], OrgPlan>
  developerPlans: Record<DeveloperPlan['id'], DeveloperPlan>
  invoices: { issuerName: string; issuerAddress: string; prepaidNetDays: number; enterpriseNetDays: number; generateEveryMs: number }
  referrals: { reward: Picodollars }
  autoTopup: { checkEveryMs: number; minimumCents: number }
  rollupEveryMs: number
  /** How long a plan-limit check trusts its cached monthly usage (ms). */
  limitCacheMs: number
}

const usd = { type: 'string', pattern: '^\\d{1,9}(\\.\\d{1,12})?$', description: 'US dollars as a decimal string ("49.99")' }
const cents = { type: 'string', pattern: '^\\d{1,9}(\\.\\d{1,2})?$', description: 'US dollars with at most two decimals ("49.99")' }
const limit = { type: ['integer', 'null'], minimum: 0 }
const price = {
  type: 'object',
  additionalProperties: false,
  required: ['amountUsd'],
  properties: { stripePriceId: { type: 'string', minLength: 1 }, amountUsd: cents },
}
const prices = { type: 'object', additionalProperties: false, properties: { month: price, year: price } }
const orgPlan = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: { tokensPerMonth: limit, requestsPerMonth: limit, queriesPerMonth: limit, storageGb: limit, seats: limit },
    },
    prices,
    netDays: { type: 'integer', minimum: 0, maximum: 365 },
  },
}
const devPlan = {
  type: 'object',
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1 }, monthlyCreditsUsd: usd, prices },
}

/** JSON Schema properties of the payments part of the billing plugin's config. */
export const commerceConfigSchemaProperties: Record<string, unknown> = {
  devMode: { type: 'boolean', description: 'Grant purchased credits at once without payment (development only).' },
  stripe: {
    type: 'object',
    additionalProperties: false,
    required: ['secretKey', 'webhookSecret'],
    properties: {
      secretKey: { type: 'string', minLength: 1 },
      webhookSecret: { type: 'string', minLength: 1 },
      webhookToleranceSeconds: { type: 'integer', minimum: 1, maximum: 300 },
      apiHost: { type: 'string', minLength: 1 },
      apiPort: { type: 'integer', minimum: 1, maximum: 65535 },
      apiProtocol: { enum: ['http', 'https'] },
      currency: { type: 'string', pattern: '^[a-z]{3}$' },
      successUrl: { type: 'string', minLength: 1 },
      cancelUrl: { type: 'string', minLength: 1 },
      portalReturnUrl: { type: 'string', minLength: 1 },
    },
  },
  creditPackages: {
    type: 'array',
    maxItems: 50,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'priceUsd', 'creditsUsd'],
      properties: { id: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }, name: { type: 'string' }, priceUsd: cents, creditsUsd: usd, bonusCreditsUsd: usd },
    },
  },
  plans: { type: 'object', additionalProperties: false, properties: { free: orgPlan, pro: orgPlan, enterprise: orgPlan } },
  developerPlans: { type: 'object', additionalProperties: false, properties: { lite: devPlan, pro: devPlan, max: devPlan } },
  invoices: {
    type: 'object',
    additionalProperties: false,
    properties: {
      issuerName: { type: 'string' },
      issuerAddress: { type: 'string' },
      prepaidNetDays: { type: 'integer', minimum: 0, maximum: 365 },
      enterpriseNetDays: { type: 'integer', minimum: 0, maximum: 365 },
      generateEveryMs: { type: 'integer', minimum: 1000 },
    },
  },
  referrals: { type: 'object', additionalProperties: false, properties: { rewardUsd: usd } },
  autoTopup: { type: 'object', additionalProperties: false, properties: { checkEveryMs: { type: 'integer', minimum: 100 }, minimumUsd: cents } },
  usageRollupEveryMs: { type: 'integer', minimum: 50 },
  planLimitCacheMs: { type: 'integer', minimum: 0 },
}

type Raw = Record<string, any>

/** Whole cents of a dollar string with at most two decimals. */
export function usdToCents(text: string, field: string): number {
  const pico = parseUsd(text, field)
  if (pico % PICO_PER_CENT !== 0n) throw new RangeError(`${field}: "${text}" is not a whole number of cents`)
  return Number(pico / PICO_PER_CENT)
}

const DEFAULT_PLANS: Record<OrgPlan['id'], OrgPlan> = {
  // Seed 002's tiers: Starter/Professional/Enterprise limits under the Free/Pro/Enterprise names.
  free: { id: 'free', name: 'Free', limits: { tokensPerMonth: 500_000, requestsPerMonth: 10_000, queriesPerMonth: 10_000, storageGb: 10, seats: 5 }, prices: {} },
  pro: {
    id: 'pro',
    name: 'Pro',
    limits: { tokensPerMonth: 5_000_000, requestsPerMonth: 100_000, queriesPerMonth: 100_000, storageGb: 100, seats: 25 },
    prices: { month: { amountUsd: '499' }, year: { amountUsd: '4990' } },
  },
  enterprise: {
    id: 'enterprise',
    name: 'Enterprise',
    limits: { tokensPerMonth: null, requestsPerMonth: null, queriesPerMonth: null, storageGb: 1000, seats: null },
    prices: {},
    netDays: 30,
    assignedByAdmin: true,
  },
}

const DEFAULT_DEV_PLANS: Record<DeveloperPlan['id'], { name: string; monthlyCreditsUsd: string; month: string; year: string }> = {
  lite: { name: 'Lite', monthlyCreditsUsd: '10', month: '10', year: '100' },
  pro: { name: 'Pro', monthlyCreditsUsd: '50', month: '50', year: '500' },
  max: { name: 'Max', monthlyCreditsUsd: '200', month: '200', year: '2000' },
}

const DEFAULT_PACKAGES = [
  { id: 'starter', name: 'Starter', priceUsd: '10', creditsUsd: '10', bonusCreditsUsd: '0' },
  { id: 'growth', name: 'Growth', priceUsd: '50', creditsUsd: '50', bonusCreditsUsd: '2.5' },
  { id: 'scale', name: 'Scale', priceUsd: '200', creditsUsd: '200', bonusCreditsUsd: '20' },
]

function mergePrices(raw: Raw | undefined, fallback: OrgPlan['prices']): OrgPlan['prices'] {
  if (!raw) return fallback
  return { month: raw.month ?? fallback.month, year: raw.year ?? fallback.year }
}

/** Resolves the payments config from the plugin's (schema-validated) config, filling defaults. */
export function resolveCommerceConfig(raw: Raw): CommerceConfig {
  const plans = {} as Record<OrgPlan['id'], OrgPlan>
  for (const id of ['free', 'pro', 'enterprise'] as const) {
    const given: Raw = raw.plans?.[id] ?? {}
    const base = DEFAULT_PLANS[id]
    plans[id] = {
      ...base,
      name: given.name ?? base.name,
      limits: { ...base.limits, ...(given.limits ?? {}) },
      prices: mergePrices(given.prices, base.prices),
      netDays: given.netDays ?? base.netDays,
    }
    for (const [interval, p] of Object.entries(plans[id].prices)) if (p) usdToCents(p.amountUsd, `plans.${id}.prices.${interval}.amountUsd`)
  }
  const developerPlans = {} as Record<DeveloperPlan['id'], DeveloperPlan>
  for (const id of ['lite', 'pro', 'max'] as const) {
    const given: Raw = raw.developerPlans?.[id] ?? {}
    const base = DEFAULT_DEV_PLANS[id]
    developerPlans[id] = {
      id,
      name: given.name ?? base.name,
      monthlyCredits: parseUsd(given.monthlyCreditsUsd ?? base.monthlyCreditsUsd, `developerPlans.${id}.monthlyCreditsUsd`),
      prices: mergePrices(given.prices, { month: { amountUsd: base.month }, year: { amountUsd: base.year } }),
    }
  }
  const packages: Raw[] = raw.creditPackages ?? DEFAULT_PACKAGES
  const seen = new Set<string>()
  const creditPackages = packages.map((p, i): CreditPackage => {
    if (seen.has(p.id)) throw new RangeError(`creditPackages[${i}].id: "${p.id}" is used twice`)
    seen.add(p.id)
    const priceCents = usdToCents(p.priceUsd, `creditPackages[${i}].priceUsd`)
    if (priceCents < 50) throw new RangeError(`creditPackages[${i}].priceUsd: Stripe charges at least $0.50`)
    return { id: p.id, name: p.name ?? p.id, priceCents, credits: parseUsd(p.creditsUsd, `creditPackages[${i}].creditsUsd`), bonusCredits: parseUsd(p.bonusCreditsUsd ?? '0', `creditPackages[${i}].bonusCreditsUsd`) }
  })
  const s: Raw | undefined = raw.stripe
  return {
    devMode: raw.devMode === true,
    stripe: s
      ? {
          secretKey: s.secretKey,
          webhookSecret: s.webhookSecret,
          toleranceSeconds: s.webhookToleranceSeconds ?? 300,
          apiHost: s.apiHost,
          apiPort: s.apiPort,
          apiProtocol: s.apiProtocol,
          currency: s.currency ?? 'usd',
          successUrl: s.successUrl ?? 'http://127.0.0.1:8080/billing/checkout/success?session_id={CHECKOUT_SESSION_ID}',
          cancelUrl: s.cancelUrl ?? 'http://127.0.0.1:8080/billing/checkout/cancelled',
          portalReturnUrl: s.portalReturnUrl ?? 'http://127.0.0.1:8080/',
        }
      : undefined,
    creditPackages,
    plans,
    developerPlans,
    invoices: {
      issuerName: raw.invoices?.issuerName ?? 'Tollgate',
      issuerAddress: raw.invoices?.issuerAddress ?? '',
      prepaidNetDays: raw.invoices?.prepaidNetDays ?? 0,
      enterpriseNetDays: raw.invoices?.enterpriseNetDays ?? plans.enterprise.netDays ?? 30,
      generateEveryMs: raw.invoices?.generateEveryMs ?? 3_600_000,
    },
    referrals: { reward: parseUsd(raw.referrals?.rewardUsd ?? '10', 'referrals.rewardUsd') },
    autoTopup: { checkEveryMs: raw.autoTopup?.checkEveryMs ?? 30_000, minimumCents: usdToCents(raw.autoTopup?.minimumUsd ?? '5', 'autoTopup.minimumUsd') },
    rollupEveryMs: raw.usageRollupEveryMs ?? 1000,
    limitCacheMs: raw.planLimitCacheMs ?? 2000,
  }
}
