/**
 * Exact money. Amounts are bigint picodollars (1e-12 USD): a token can cost 5e-8 USD, and prices
 * are whole microdollars per million tokens, so the cost of N tokens is N × price exactly,
 * with no rounding and no float anywhere.
 */

/** An exact amount of US dollars in picodollars (1e-12 USD). */
export type Picodollars = bigint

/** A price in microdollars (1e-6 USD) per million units (tokens, requests, …). */
export type MicrodollarsPerMillion = bigint

const PICO_DECIMALS = 12
const MICRO_DECIMALS = 6

/**
 * Parses a decimal dollar string ("0.15", "3", "0.000075") into an integer of `decimals` places.
 * Throws on anything that is not a plain non-negative decimal with at most that many places.
 */
export function parseDecimal(text: string, decimals: number, field = 'amount'): bigint {
  const m = /^(\d{1,15})(?:\.(\d+))?$/.exec(text.trim())
  if (!m) throw new RangeError(`${field}: "${text}" is not a non-negative decimal number`)
  const frac = m[2] ?? ''
  if (frac.length > decimals) throw new RangeError(`${field}: "${text}" has more than ${decimals} decimal places`)
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0')
}

/** Formats an integer of `decimals` places as a decimal string without trailing zeros ("0.15"). */
export function formatDecimal(value: bigint, decimals: number): string {
  const negative = value < 0n
  const abs = negative ? -value : value
  const scale = 10n ** BigInt(decimals)
  const whole = abs / scale
  const frac = (abs % scale).toString().padStart(decimals, '0').replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`
}

/** Parses a price given as USD per million units ("0.15") into microdollars per million. */
export function parsePricePerMillion(usdPerMillion: string, field = 'price'): MicrodollarsPerMillion {
  return parseDecimal(usdPerMillion, MICRO_DECIMALS, field)
}

/** Formats microdollars per million as USD per million ("0.15"). */
export function formatPricePerMillion(price: MicrodollarsPerMillion): string {
  return formatDecimal(price, MICRO_DECIMALS)
}

/** Cost of `units` at a price per million units, exactly: 1 microdollar per million units is 1 picodollar per unit. */
export function costOf(units: number | bigint, price: MicrodollarsPerMillion): Picodollars {
  return BigInt(units) * price
}

/** Formats picodollars as a USD decimal string ("0.00000015"). */
export function formatUsd(amount: Picodollars): string {
  return formatDecimal(amount, PICO_DECIMALS)
}

/** Parses a USD decimal string into picodollars. */
export function parseUsd(text: string, field = 'amount'): Picodollars {
  return parseDecimal(text, PICO_DECIMALS, field)
}
