import { shannonEntropy } from './checksums.js'
import { type GuardrailMatch, type GuardrailRule, matchesAround, regexMatches } from './rule.js'

/**
 * Provider credentials and other secrets. Each rule is one precompiled regex with a keyword
 * prefilter (the way gitleaks works), plus checks that drop placeholders: a body of one
 * repeated character, long alphabetical or numeric runs (`abcdefgh`, `12345678`), low entropy,
 * or the documented `…EXAMPLE` suffix of AWS samples.
 */

/** True when a token body looks like a placeholder rather than a generated secret. */
export function looksLikePlaceholder(body: string, minEntropy = 3): boolean {
  if (body.length === 0) return true
  if (/^(.)\1*$/.test(body)) return true
  if (/(?:x{6,}|X{6,}|\*{4,}|#{4,}|\.{3,})/.test(body)) return true
  if (hasSequence(body, 7)) return true
  return shannonEntropy(body) < minEntropy
}

/** A run of `n` characters each one above the previous (abcdefg, 1234567). */
function hasSequence(s: string, n: number): boolean {
  let run = 1
  for (let i = 1; i < s.length; i++) {
    run = s.charCodeAt(i) === s.charCodeAt(i - 1) + 1 ? run + 1 : 1
    if (run >= n) return true
  }
  return false
}

const STICKY = new WeakMap<RegExp, RegExp>()

/** matchesAround for rules that report a capture group and filter whole matches. */
function matchesAroundWithGroup(lower: string, text: string, around: NonNullable<SecretSpec['around']>, re: RegExp, group?: number, accept?: (m: RegExpExecArray) => boolean): GuardrailMatch[] {
  const out: GuardrailMatch[] = []
  for (const w of matchesAround(lower, around.literals, re, around.before, around.after, text)) {
    // Re-run on the exact span to get the group and apply the check (spans are few).
    let sticky = STICKY.get(re)
    if (!sticky) {
      sticky = new RegExp(re.source, `${re.flags.replace('g', '')}y`)
      STICKY.set(re, sticky)
    }
    sticky.lastIndex = w.start
    const m = sticky.exec(text)
    if (!m || (accept && !accept(m))) continue
    if (group !== undefined && m.indices?.[group]) out.push({ start: m.indices[group][0], end: m.indices[group][1] })
    else out.push(w)
  }
  return out
}

/**
 * Matches that start exactly where a literal occurs (patterns whose every match begins with one
 * of the literals): a sticky regex is tried at each occurrence instead of walking a window
 * around it. Occurrences inside a previous match are skipped, as a global walk would.
 */
function matchesAtLiterals(lower: string, text: string, finder: RegExp, sticky: RegExp, group?: number, accept?: (m: RegExpExecArray) => boolean): GuardrailMatch[] {
  const out: GuardrailMatch[] = []
  let lastEnd = 0
  finder.lastIndex = 0
  let f: RegExpExecArray | null
  // biome-ignore lint/suspicious/noAssignInExpressions: exec loop
  while ((f = finder.exec(lower)) !== null) {
    if (f.index < lastEnd) continue
    sticky.lastIndex = f.index
    const m = sticky.exec(text)
    if (!m || m[0].length === 0) continue
    lastEnd = f.index + m[0].length
    if (accept && !accept(m)) continue
    if (group !== undefined && m.indices?.[group]) out.push({ start: m.indices[group][0], end: m.indices[group][1] })
    else out.push({ start: m.index, end: lastEnd })
  }
  return out
}

interface SecretSpec {
  id: string
  placeholder: string
  keywords: string[]
  patterns: RegExp[]
  maxMatchLength: number
  /** Capture group holding the secret (default: the whole match). */
  group?: number
  /** The part of the match judged for placeholders (default: the secret). */
  body?: (secret: string) => string
  minEntropy?: number
  /** Skip the placeholder check (formats whose documented samples are legitimately low-entropy). */
  noPlaceholderCheck?: boolean
  fallback?: boolean
  /** Extra check on the whole regex match (names, context). */
  accept?: (m: RegExpExecArray) => boolean
  /** Look only around these lower-case literals (window before/after), for patterns with costly starts. */
  around?: { literals: string[]; before: number; after: number }
  /** Every match starts with one of these lower-case literals: the pattern is tried only where they occur. */
  startsWith?: string[]
}

function secretRule(spec: SecretSpec): GuardrailRule {
  const finder = spec.startsWith && new RegExp(spec.startsWith.map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
  const sticky = spec.startsWith && spec.patterns.map((p) => new RegExp(p.source, `${p.flags.replace('g', '')}y`))
  return {
    id: spec.id,
    category: 'secret',
    placeholder: spec.placeholder,
    defaultAction: 'redact',
    maxMatchLength: spec.maxMatchLength,
    keywords: spec.keywords,
    fallback: spec.fallback,
    scan(text, lower) {
      const out: GuardrailMatch[] = []
      for (let i = 0; i < spec.patterns.length; i++) {
        const re = spec.patterns[i]
        const found = finder && sticky ? matchesAtLiterals(lower, text, finder, sticky[i], spec.group, spec.accept) : spec.around ? matchesAroundWithGroup(lower, text, spec.around, re, spec.group, spec.accept) : regexMatches(re, text, spec.group, spec.accept)
        for (const m of found) {
          const secret = text.slice(m.start, m.end)
          if (!spec.noPlaceholderCheck && looksLikePlaceholder(spec.body ? spec.body(secret) : secret, spec.minEntropy)) continue
          out.push(m)
        }
      }
      return out
    },
  }
}

const B = '(?<![A-Za-z0-9_\\-])'
const E = '(?![A-Za-z0-9_\\-])'
const re = (source: string, flags = 'g') => new RegExp(source, flags)

/** OpenAI keys: `sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-` with the `T3BlbkFJ` marker inside. */
export const openaiKeyRule = secretRule({
  id: 'secret.openai',
  placeholder: '[OPENAI_API_KEY]',
  keywords: ['t3blbkfj'],
  patterns: [re(`${B}sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_\\-]{16,200}T3BlbkFJ[A-Za-z0-9_\\-]{16,200}${E}`)],
  maxMatchLength: 256,
  body: (s) => s.replace(/^sk-(?:proj-|svcacct-|admin-)?/, ''),
})

/** Anthropic API and admin keys: `sk-ant-api03-` / `sk-ant-admin01-`, 93 characters, then `AA`. */
export const anthropicKeyRule = secretRule({
  id: 'secret.anthropic',
  placeholder: '[ANTHROPIC_API_KEY]',
  keywords: ['sk-ant-'],
  patterns: [re(`${B}sk-ant-(?:api|admin)\\d{2}-[A-Za-z0-9_\\-]{93}AA${E}`)],
  maxMatchLength: 128,
  // The fixed length and the `AA` tail are specific enough; samples with readable runs are still keys.
  noPlaceholderCheck: true,
})

/** AWS access key ids (AKIA/ASIA/ABIA/ACCA/A3T + 16 base32 characters). */
export const awsAccessKeyRule = secretRule({
  id: 'secret.aws_access_key',
  placeholder: '[AWS_ACCESS_KEY_ID]',
  keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
  patterns: [re('(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Z0-9])')],
  maxMatchLength: 24,
  body: (s) => (s.endsWith('EXAMPLE') ? '' : s.slice(4)),
  minEntropy: 2.5,
})

/** AWS secret access keys: 40 base64 characters assigned to a name that says aws + secret. */
export const awsSecretKeyRule = secretRule({
  id: 'secret.aws_secret_key',
  placeholder: '[AWS_SECRET_ACCESS_KEY]',
  keywords: ['aws', 'secret_access_key', 'secretaccesskey'],
  patterns: [re('(?:aws|secret_?access_?key)[\\w.\\-]{0,30}["\']?\\s{0,5}(?:=|:|=>|:=)\\s{0,5}["\']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])', 'gid')],
  group: 1,
  maxMatchLength: 128,
  body: (s) => (s.endsWith('EXAMPLEKEY') ? '' : s),
  minEntropy: 3.5,
})

/** GitHub tokens: classic (ghp/gho/ghu/ghs/ghr + 36) and fine-grained (`github_pat_` + 82). */
export const githubTokenRule = secretRule({
  id: 'secret.github',
  placeholder: '[GITHUB_TOKEN]',
  keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
  patterns: [re(`${B}gh[pousr]_[A-Za-z0-9]{36}${E}`), re(`${B}github_pat_[A-Za-z0-9_]{82}${E}`)],
  maxMatchLength: 96,
  body: (s) => s.replace(/^(?:gh[pousr]_|github_pat_)/, ''),
})

/** GitLab tokens: every `gl…-` prefix GitLab issues, runner registration tokens (GR1348941…) and session cookies. */
export const gitlabTokenRule = secretRule({
  id: 'secret.gitlab',
  placeholder: '[GITLAB_TOKEN]',
  keywords: ['glpat-', 'glptt-', 'glrt-', 'gldt-', 'glft-', 'glimt-', 'glagent-', 'gloas-', 'glcbt-', 'glffct-', 'glsoat-', 'gr1348941', '_gitlab_session='],
  patterns: [
    re(`${B}gl(?:pat|ptt|rt|dt|ft|imt|agent|oas|cbt|ffct|soat)-[A-Za-z0-9_\\-.]{20,100}${E}`),
    re(`${B}GR1348941[A-Za-z0-9_\\-]{20}${E}`),
    re('_gitlab_session=[0-9a-z]{32}(?![0-9a-z])'),
  ],
  maxMatchLength: 128,
  body: (s) => s.replace(/^(?:gl[a-z]+-|GR1348941|_gitlab_session=)/, ''),
})

/** Stripe secret and restricted keys (`sk_`/`rk_` + live/test/prod); publishable `pk_` keys are not secrets. */
export const stripeKeyRule = secretRule({
  id: 'secret.stripe',
  placeholder: '[STRIPE_KEY]',
  keywords: ['sk_live_', 'sk_test_', 'sk_prod_', 'rk_live_', 'rk_test_', 'rk_prod_'],
  patterns: [re(`${B}[sr]k_(?:live|test|prod)_[A-Za-z0-9]{24,247}${E}`)],
  maxMatchLength: 256,
  // Stripe's own documentation samples are runs of one letter; the format alone is the signal.
  noPlaceholderCheck: true,
})

/** Slack tokens (bot, user, app, workspace, legacy, configuration) and incoming-webhook URLs. */
export const slackTokenRule = secretRule({
  id: 'secret.slack',
  placeholder: '[SLACK_TOKEN]',
  keywords: ['xox', 'xapp-', 'hooks.slack.com'],
  patterns: [
    re('(?<![A-Za-z0-9_\\-])xoxb-\\d{10,13}-\\d{10,13}[A-Za-z0-9\\-]*'),
    re('(?<![A-Za-z0-9_\\-])xoxb-\\d{8,14}-[A-Za-z0-9]{18,26}(?![A-Za-z0-9])'),
    re('(?<![A-Za-z0-9_\\-.])xox[pe](?:-\\d{10,13}){3}-[A-Za-z0-9]{28,34}(?![A-Za-z0-9])'),
    re('(?<![A-Za-z0-9_\\-])xox[ar]-(?:\\d-)?[A-Za-z0-9]{8,48}(?:-[A-Za-z0-9]{1,48}){0,4}(?![A-Za-z0-9])'),
    re('(?<![A-Za-z0-9_\\-])xox[os]-\\d+-\\d+-\\d+-[A-Fa-f0-9]+(?![A-Za-z0-9])'),
    re('(?<![A-Za-z0-9_\\-])xapp-\\d-[A-Z0-9]+-\\d+-[a-z0-9]+(?![A-Za-z0-9])', 'gi'),
    re('(?<![A-Za-z0-9_\\-])xoxe\\.xox[bp]-\\d-[A-Z0-9]{163,166}(?![A-Za-z0-9])', 'gi'),
    re('(?<![A-Za-z0-9_\\-])xoxe-\\d-[A-Z0-9]{146}(?![A-Za-z0-9])', 'gi'),
    re('(?:https?://)?hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,100}'),
  ],
  maxMatchLength: 192,
  // The random part is the last segment; the numeric team/user ids before it are not.
  body: (s) => (s.includes('hooks.slack.com') ? s.replace(/^(?:https?:\/\/)?hooks\.slack\.com\/[a-z]+\//, '') : s.slice(s.lastIndexOf('-') + 1)),
  minEntropy: 2.9,
})

/** Google API keys (`AIza` + 35). */
export const googleApiKeyRule = secretRule({
  id: 'secret.google_api_key',
  placeholder: '[GOOGLE_API_KEY]',
  keywords: ['aiza'],
  patterns: [re(`${B}AIza[A-Za-z0-9_\\-]{35}${E}`)],
  maxMatchLength: 40,
  body: (s) => s.slice(4),
})

/**
 * Private key blocks (PEM, OpenSSH, PGP): the BEGIN line followed by at least 64 characters of
 * key material (a literal `\n` from JSON counts as a line break), through the END line when it
 * is there. A block still arriving in a stream keeps matching as it grows, so it is held whole.
 */
export const privateKeyRule = secretRule({
  id: 'secret.private_key',
  placeholder: '[PRIVATE_KEY]',
  keywords: ['private key'],
  patterns: [re('-----BEGIN[ A-Z0-9_]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=:.,]|-(?!----)|\\\\[nr]|\\s){64,16384}(?:-----END[ A-Z0-9_]{0,40}PRIVATE KEY(?: BLOCK)?-----)?')],
  maxMatchLength: 160,
  body: (s) => s.replace(/-----[A-Z ]+-----/g, '').replace(/\\[nr]|\s|[A-Za-z-]+: [^\\\n]*/g, ''),
  minEntropy: 4,
})

/** JSON Web Tokens: two or three base64url segments whose first two start with `ey` (`{"`). */
export const jwtRule = secretRule({
  id: 'secret.jwt',
  placeholder: '[JWT]',
  keywords: ['.ey'],
  patterns: [re(`(?<![A-Za-z0-9])ey[A-Za-z0-9_\\-]{17,512}\\.ey[A-Za-z0-9/\\\\_\\-]{17,8192}\\.?(?:[A-Za-z0-9/\\\\_\\-]{10,4096}={0,2})?`)],
  maxMatchLength: 256,
  minEntropy: 3.5,
})

/**
 * Credentials in URLs: database connection strings and `scheme://user:password@host`, skipping
 * template variables. User (≤ 64) and password (≤ 200) are bounded so a match is recognisable
 * within the stream guard's window.
 */
export const connectionStringRule = secretRule({
  id: 'secret.connection_string',
  placeholder: '[CONNECTION_STRING]',
  keywords: ['://'],
  patterns: [re('(?<![A-Za-z0-9+.\\-])(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|rediss?|amqps?|mssql|sqlserver|oracle|clickhouse|cockroachdb|couchdb|neo4j(?:\\+s)?|jdbc:[a-z]{2,12}|https?|s?ftps?|ldaps?|smtps?)://[^\\s:/@\'"`<>(){}$]{1,64}:([^\\s@\'"`<>/]{1,200})@[A-Za-z0-9.\\-_\\[\\]:]{1,255}', 'gid')],
  maxMatchLength: 256,
  around: { literals: ['://'], before: 24, after: 700 },
  body: (s) => (connectionPlaceholder(s) ? '' : 'credential'),
  minEntropy: 0,
})

/** True when the password of a `scheme://user:password@host` match is a template or a stand-in. */
function connectionPlaceholder(match: string): boolean {
  const m = /:\/\/([^:]*):([^@]*)@/.exec(match)
  if (!m) return true
  const [, user, pw] = m
  if (pw === user) return true
  if (/^(?:\$|\{|<|%\(|\*+$|\[)/.test(pw)) return true
  if (/^[A-Z][A-Z0-9_]*$/.test(pw) && pw.includes('_')) return true
  return /^(?:password|pass|passwd|pwd|secret|changeme|example|test|xxx+|\.\.\.)$/i.test(pw)
}

/**
 * The generic rule leaves alone names that hold locations or ids (`token_uri`, `key_id`), names
 * a provider rule owns (AWS secret access keys: that rule judges their values), and values that
 * are URLs or paths.
 */
function genericAccept(m: RegExpExecArray): boolean {
  const name = /^[A-Za-z0-9_.-]+/.exec(m[0])?.[0] ?? ''
  if (/[_.-](?:uri|url|endpoint|path|file|type|id|name)$/i.test(name)) return false
  if (/aws.{0,20}secret|secret_?access_?key/i.test(name)) return false
  return !/^(?:https?|s?ftp|file):\/\/|^\//.test(m[1] ?? '')
}

/**
 * `password = …`, `token: …`, `api_key => …` assignments whose value has high entropy. A
 * fallback: dropped where a provider rule already flagged the same span.
 */
export const genericAssignmentRule = secretRule({
  id: 'secret.generic_assignment',
  placeholder: '[SECRET]',
  keywords: ['pass', 'pwd', 'secret', 'token', 'key', 'auth'],
  patterns: [
    re('(?<![A-Za-z0-9])(?:password|passwd|pwd|secret|token|api[_\\-]?key|access[_\\-]?key|private[_\\-]?key|auth[_\\-]?token|client[_\\-]?secret)[A-Za-z0-9_.\\-]{0,20}["\']?\\s{0,5}(?:=|:|:=|=>)\\s{0,5}["\'`]?([^\\s"\'`,;<>]{8,200})', 'gid'),
  ],
  group: 1,
  maxMatchLength: 256,
  minEntropy: 3.5,
  startsWith: ['password', 'passwd', 'pwd', 'secret', 'token', 'api', 'access', 'private', 'auth', 'client'],
  // Names that hold locations or ids, and names a provider rule owns (it judges those values).
  accept: genericAccept,
  body: (s) => (/[0-9]/.test(s) && /[A-Za-z]/.test(s) && !/^\$\{|^\{\{|^<|^%\(|^process\.env|^os\.environ|example|sample|dummy|placeholder|changeme|your[_-]/i.test(s) ? s : ''),
  fallback: true,
})

/** Every secret rule, provider rules first (the generic one yields to them). */
export const SECRET_RULES: GuardrailRule[] = [
  openaiKeyRule,
  anthropicKeyRule,
  awsAccessKeyRule,
  awsSecretKeyRule,
  githubTokenRule,
  gitlabTokenRule,
  stripeKeyRule,
  slackTokenRule,
  googleApiKeyRule,
  privateKeyRule,
  jwtRule,
  connectionStringRule,
  genericAssignmentRule,
]
