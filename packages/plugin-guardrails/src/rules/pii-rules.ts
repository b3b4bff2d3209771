import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max'
import { ibanValid, luhnValid } from './checksums.js'
import { type GuardrailMatch, type GuardrailRule, regexMatches } from './rule.js'

const LOCAL = /[A-Za-z0-9._%+-]/
const DOMAIN = /[A-Za-z0-9\-.]/

/**
 * Email addresses. Instead of a regex tried at every position, each `@` is expanded left over
 * local-part characters and right over domain characters, then the domain must end in a dot and
 * a TLD of letters (or an `xn--` label).
 */
export const emailRule: GuardrailRule = {
  id: 'pii.email',
  category: 'pii',
  placeholder: '[EMAIL]',
  defaultAction: 'redact',
  maxMatchLength: 320,
  keywords: ['@'],
  scan(text) {
    const out: GuardrailMatch[] = []
    let at = text.indexOf('@')
    let lastEnd = 0
    while (at !== -1) {
      let s = at
      while (s > lastEnd && at - s < 64 && LOCAL.test(text[s - 1])) s--
      while (s < at && text[s] === '.') s++
      let e = at + 1
      while (e < text.length && e - at < 255 && DOMAIN.test(text[e])) e++
      while (e > at + 1 && (text[e - 1] === '.' || text[e - 1] === '-')) e--
      if (s < at && validDomain(text.slice(at + 1, e))) {
        out.push({ start: s, end: e })
        lastEnd = e
      }
      at = text.indexOf('@', Math.max(at + 1, lastEnd))
    }
    return out
  },
}

function validDomain(domain: string): boolean {
  const labels = domain.split('.')
  if (labels.length < 2 || labels.some((l) => l.length === 0 || l.length > 63)) return false
  const tld = labels[labels.length - 1]
  return /^[A-Za-z]{2,24}$/.test(tld) || /^xn--[a-z0-9]{2,59}$/i.test(tld)
}

/**
 * US Social Security numbers: 3-2-4 digits with one consistent separator (or none, or the
 * 3-6 / 5-4 splits Presidio also accepts), excluding the never-issued areas 000, 666 and 9xx,
 * group 00, serial 0000, and runs of one digit.
 */
const SSN = /(?<![\d\-.])(\d{3})([ \-.]?)(\d{2})\2(\d{4})(?![\d-]|\.\d)|(?<![\d\-.])(\d{3})-(\d{6})(?![\d-])|(?<![\d\-.])(\d{5})-(\d{4})(?![\d-])/g
export const ssnRule: GuardrailRule = {
  id: 'pii.us_ssn',
  category: 'pii',
  placeholder: '[US_SSN]',
  defaultAction: 'redact',
  maxMatchLength: 16,
  scan(text) {
    return regexMatches(SSN, text, undefined, (m) => {
      const digits = m[0].replace(/\D/g, '')
      const area = digits.slice(0, 3)
      if (area === '000' || area === '666' || area[0] === '9') return false
      if (digits.slice(3, 5) === '00' || digits.slice(5) === '0000') return false
      return !/^(\d)\1+$/.test(digits)
    })
  },
}

/** Payment card numbers: 13–19 digits in groups split by single spaces or dashes, with a valid Luhn check digit and a known issuer prefix. */
const CARD = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])/g
const ISSUER = /^(?:4|5[0-9]|2[2-7]|2131|1800|3[47]|3[0689]|35|6(?:011|5|4[4-9]|2|3|7)|1)/
export const creditCardRule: GuardrailRule = {
  id: 'pii.credit_card',
  category: 'pii',
  placeholder: '[CREDIT_CARD]',
  defaultAction: 'redact',
  maxMatchLength: 24,
  scan(text) {
    return regexMatches(CARD, text, undefined, (m) => {
      const digits = m[0].replace(/\D/g, '')
      return ISSUER.test(digits) && luhnValid(digits) && !/^(\d)\1+$/.test(digits)
    })
  },
}

/** IBANs: two letters, two check digits, then up to 30 alphanumerics in optional groups of four; validated by country length and mod 97. */
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){8,30}(?![A-Za-z0-9])/g
export const ibanRule: GuardrailRule = {
  id: 'pii.iban',
  category: 'pii',
  placeholder: '[IBAN]',
  defaultAction: 'redact',
  maxMatchLength: 48,
  scan(text) {
    IBAN.lastIndex = 0
    const out: GuardrailMatch[] = []
    let m: RegExpExecArray | null
    // biome-ignore lint/suspicious/noAssignInExpressions: exec loop
    while ((m = IBAN.exec(text)) !== null) {
      const raw = m[0]
      const compact = raw.replace(/[ -]/g, '').toUpperCase()
      // A greedy match may have swallowed a following word: try the registered length first.
      const len = ibanLength(compact)
      if (len !== undefined && compact.length >= len && ibanValid(compact.slice(0, len))) {
        let taken = 0
        let i = 0
        while (taken < len) {
          if (raw[i] !== ' ' && raw[i] !== '-') taken++
          i++
        }
        out.push({ start: m.index, end: m.index + i })
        IBAN.lastIndex = m.index + i
      }
    }
    return out
  },
}

function ibanLength(compact: string): number | undefined {
  for (let len = 15; len <= 34 && len <= compact.length; len++) if (ibanValid(compact.slice(0, len))) return len
  return undefined
}

/** IPv4 (dotted quad, each octet ≤ 255) and IPv6 (full, compressed, with an embedded IPv4 tail, optional prefix length). */
const IPV4 = /(?<![\w.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?!\d)/g
function isIpv6Char(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46
}
function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
}
const DIGIT_DOT = /\d\.\d/
const HEX_COLON = /[0-9A-Fa-f]:[0-9A-Fa-f:]|::/
const IPV4_EXACT = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
export const ipAddressRule: GuardrailRule = {
  id: 'pii.ip_address',
  category: 'pii',
  placeholder: '[IP_ADDRESS]',
  defaultAction: 'redact',
  maxMatchLength: 50,
  keywords: ['.', ':'],
  scan(text) {
    // Cheap gates: a dotted quad needs digit.digit, an IPv6 address hex:hex or '::'.
    const out = DIGIT_DOT.test(text) ? regexMatches(IPV4, text) : []
    if (HEX_COLON.test(text)) {
      // Each maximal run of hex digits, colons and dots around a colon is one candidate (linear).
      let at = text.indexOf(':')
      while (at !== -1) {
        let s = at
        while (s > 0 && isIpv6Char(text.charCodeAt(s - 1))) s--
        let e = at + 1
        while (e < text.length && isIpv6Char(text.charCodeAt(e))) e++
        if (text[e] === '/' && /^\/\d{1,3}(?!\d)/.test(text.slice(e, e + 5))) e += /^\/(\d{1,3})/.exec(text.slice(e, e + 4))![0].length
        let end = e
        while (end > s && text[end - 1] === '.') end--
        const before = s > 0 ? text.charCodeAt(s - 1) : 32
        const after = e < text.length ? text.charCodeAt(e) : 32
        if (!isWordChar(before) && !isWordChar(after) && validIpv6(text.slice(s, end))) out.push({ start: s, end })
        at = text.indexOf(':', e)
      }
      if (out.length > 1) out.sort((a, b) => a.start - b.start)
    }
    return out
  },
}

/** RFC 4291 text forms: eight groups, or fewer around one `::`; an IPv4 tail counts as two groups. */
function validIpv6(candidate: string): boolean {
  const slash = candidate.indexOf('/')
  const s = slash >= 0 ? candidate.slice(0, slash) : candidate
  if (slash >= 0 && Number(candidate.slice(slash + 1)) > 128) return false
  const parts = s.split('::')
  if (parts.length > 2) return false
  const groups = parts.flatMap((p) => (p.length === 0 ? [] : p.split(':')))
  let count = 0
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]
    if (i === groups.length - 1 && g.includes('.')) {
      if (!IPV4_EXACT.test(g)) return false
      count += 2
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) count++
    else return false
  }
  return parts.length === 2 ? count <= 7 : count === 8
}

/**
 * Phone numbers. A cheap regex finds digit runs shaped like a number (optional `+`, groups split
 * by spaces, dots, dashes, slashes or parentheses); libphonenumber-js then decides: an
 * international number must be valid for its country code, a national one valid in one of the
 * configured regions.
 */
const PHONE = /(?<![\w+\-.])(?:\+\d{1,3}[ \-.]?)?(?:\(\d{1,5}\)[ \-.]?)?\d{1,14}(?:[ \-./]\d{1,14}){0,5}(?:[ ]?(?:x|ext\.?)[ ]?\d{1,6})?(?![\w]|[-.]\d)/g

/** Builds the phone rule for a list of regions tried for numbers written without a country code. */
export function phoneRule(regions: readonly CountryCode[]): GuardrailRule {
  return {
    id: 'pii.phone',
    category: 'pii',
    placeholder: '[PHONE]',
    defaultAction: 'redact',
    maxMatchLength: 32,
    fallback: true,
    scan(text) {
      const out: GuardrailMatch[] = []
      for (const m of regexMatches(PHONE, text)) {
        const candidate = text.slice(m.start, m.end)
        let digits = 0
        for (let i = 0; i < candidate.length; i++) {
          const c = candidate.charCodeAt(i)
          if (c >= 48 && c <= 57) digits++
        }
        if (digits < 7 || digits > 15) continue
        if (isPhone(candidate.replace(/[ ]?(?:x|ext\.?)[ ]?\d{1,6}$/, ''), regions)) out.push(m)
      }
      return out
    },
  }
}

/**
 * Verdicts of recent candidates: validation is the costly part of the rule, and the stream
 * guard rescans its held window on every chunk, so the same candidate comes back often.
 */
const VERDICTS = new Map<string, boolean>()
const VERDICTS_MAX = 2048

function isPhone(candidate: string, regions: readonly CountryCode[]): boolean {
  const key = `${regions.join(',')}|${candidate}`
  const known = VERDICTS.get(key)
  if (known !== undefined) return known
  const verdict = validatePhone(candidate, regions)
  if (VERDICTS.size >= VERDICTS_MAX) VERDICTS.delete(VERDICTS.keys().next().value as string)
  VERDICTS.set(key, verdict)
  return verdict
}

function validatePhone(candidate: string, regions: readonly CountryCode[]): boolean {
  if (candidate.startsWith('+')) return parsePhoneNumberFromString(candidate)?.isValid() ?? false
  // A bare run of digits with no separator must look like a full national number (not a year, id or amount).
  for (const region of regions) {
    const n = parsePhoneNumberFromString(candidate, region)
    if (n?.isValid()) return true
  }
  return false
}
