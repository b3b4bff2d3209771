import { type GuardrailMatch, type GuardrailRule, matchesAround } from './rule.js'

/**
 * Attempts to reach local or secret files and cloud metadata: well-known secret paths (Unix
 * account files, SSH keys, cloud and tool credentials, `.env` files named as paths or after
 * a read verb), path traversal (plain and URL-encoded), and the instance metadata endpoints.
 */
/** Each pattern runs only when one of its literals occurs in the lower-cased text; patterns are lower-case and run on it. */
const FILE_PATTERNS: [readonly string[], RegExp][] = [
  [['/etc/'], /\/etc\/(?:passwd|shadow|gshadow|sudoers|master\.passwd|security\/opasswd)(?![\w.])/g],
  [['/proc/'], /\/proc\/(?:self|\d+)\/(?:environ|cmdline|mem|maps)(?!\w)/g],
  [['/var/run/secrets/'], /\/var\/run\/secrets\/(?:kubernetes\.io|eks\.amazonaws\.com)/g],
  [[':\\'], /[a-z]:\\(?:windows\\(?:system32\\config\\(?:sam|system|security)|win\.ini)|boot\.ini)/g],
  [['.ssh/'], /(?:~|\$home|\/home\/[\w.-]+|\/root|\/users\/[\w.-]+)?\/\.ssh\/(?:id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|authorized_keys|known_hosts)(?!\w)/g],
  [['id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519'], /(?<![\w/])id_(?:rsa|dsa|ecdsa|ed25519)(?![\w.])/g],
  [
    ['/.aws/', '/.kube/', '/.docker/', '/.git-credentials', '/.netrc', '/.npmrc', '/.pgpass', '/.pypirc', '_history', '/.config/gcloud/'],
    /(?:~|\$home|\/home\/[\w.-]+|\/root)?\/\.(?:aws\/credentials|kube\/config|docker\/config\.json|git-credentials|netrc|npmrc|pgpass|pypirc|bash_history|zsh_history|config\/gcloud\/(?:credentials\.db|application_default_credentials\.json))(?!\w)/g,
  ],
  [['.env'], /(?:[\w.-]*\/|\\|(?:cat|type|read|open|print|show|dump|display|leak|reveal|contents? of|less|more|head|tail|source)\s+(?:the\s+)?(?:file\s+)?["'`]?)\.env(?:\.(?:local|prod|production|dev|development|staging|test))?(?![\w/])/g],
  [['../', '..\\'], /(?:\.\.[\\/]){2,}/g],
  [['%2e', '..%', '%252e'], /(?:%2e%2e(?:%2f|%5c|\/)|\.\.%2f|\.\.%5c|%252e%252e%252f|\.\.%c0%af)/g],
  [['169.254.', '100.100.100.200', 'metadata.google.internal', 'fd00:ec2::254'], /(?<![\d.])169\.254\.169\.254(?!\d)|(?<![\d.])169\.254\.170\.2(?!\d)|(?<![\d.])100\.100\.100\.200(?!\d)|metadata\.google\.internal|fd00:ec2::254/g],
]

const ANY_FILE_LITERAL = new RegExp(
  FILE_PATTERNS.flatMap(([literals]) => literals)
    // Longest first: where two literals start at one position, the pass reports the longer one.
    .sort((a, b) => b.length - a.length)
    .map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('|'),
  'g',
)
/** For each literal, the patterns it can open (a literal may occur in another's, like `..%` in `..%2f`: checked by substring). */
const PATTERNS_OF = new Map<string, number[]>()
for (const [literals] of FILE_PATTERNS)
  for (const l of literals)
    PATTERNS_OF.set(
      l,
      FILE_PATTERNS.flatMap(([ls], i) => (ls.some((x) => l.includes(x)) ? [i] : [])),
    )

export const fileLeakageRule: GuardrailRule = {
  id: 'file.sensitive_path',
  category: 'file',
  placeholder: '[SENSITIVE_PATH]',
  defaultAction: 'block',
  defaultScope: { input: true, output: false },
  maxMatchLength: 128,
  // Every pattern's match contains one of its literals: the rule set's shared keyword pass skips the rule when none occurs.
  keywords: FILE_PATTERNS.flatMap(([literals]) => literals),
  scan(_text, lower) {
    const out: GuardrailMatch[] = []
    // One pass finds whether any literal occurs at all (the usual answer is no); each pattern is
    // then tried only around its own literals (paths can have long optional prefixes).
    // The same pass notes which patterns have a literal present, so the others are not walked.
    const wanted = new Uint8Array(FILE_PATTERNS.length)
    let any = false
    ANY_FILE_LITERAL.lastIndex = 0
    let m: RegExpExecArray | null
    // biome-ignore lint/suspicious/noAssignInExpressions: exec loop
    while ((m = ANY_FILE_LITERAL.exec(lower)) !== null) {
      for (const i of PATTERNS_OF.get(m[0]) ?? []) wanted[i] = 1
      any = true
      ANY_FILE_LITERAL.lastIndex = m.index + 1
    }
    if (!any) return out
    for (let i = 0; i < FILE_PATTERNS.length; i++) if (wanted[i]) out.push(...matchesAround(lower, FILE_PATTERNS[i][0], FILE_PATTERNS[i][1], 96, 64))
    return out.length > 1 ? out.sort((a, b) => a.start - b.start) : out
  },
}

/**
 * Confidentiality markings: classification banners in capitals (TOP SECRET, SECRET//NOFORN,
 * CONFIDENTIAL, CUI, FOUO) and the usual handling phrases in any case (internal use only,
 * proprietary and confidential, do not distribute).
 */
const BANNERS = /(?<![A-Za-z])(?:TOP SECRET(?:\/\/[A-Z/ ]{1,40})?|SECRET\/\/[A-Z/ ]{1,40}|(?:STRICTLY |HIGHLY )?CONFIDENTIAL|RESTRICTED\/\/[A-Z/ ]{1,40}|NOFORN|FOUO|CUI(?=\/\/| ?\n| - )|CONTROLLED UNCLASSIFIED INFORMATION)(?![A-Za-z])/g
const BANNER_WORDS = ['SECRET', 'CONFIDENTIAL', 'RESTRICTED//', 'NOFORN', 'FOUO', 'CUI', 'CONTROLLED UNCLASSIFIED']
const PHRASE_WORDS = ['internal', 'proprietary', 'confidential', 'distribut', 'forward', 'share externally', 'official use', 'privileged']
const PHRASES = /(?<![a-z])(?:(?:for )?internal (?:use )?only|proprietary (?:and|&) confidential|confidential (?:and|&) proprietary|company confidential|do not (?:distribute|forward|share externally)|not for (?:external )?distribution|for official use only|attorney[- ]client privileged|privileged (?:and|&) confidential)(?![a-z])/g

export const documentMarkingRule: GuardrailRule = {
  id: 'document.marking',
  category: 'document',
  placeholder: '[CONFIDENTIAL]',
  defaultAction: 'warn',
  maxMatchLength: 64,
  // Banners contain one of BANNER_WORDS (lower-cased here: keywords are looked for in the lower-cased text), phrases one of PHRASE_WORDS.
  keywords: [...BANNER_WORDS.map((w) => w.toLowerCase()), ...PHRASE_WORDS],
  scan(text, lower) {
    const banners = matchesAround(text, BANNER_WORDS, BANNERS, 16, 48)
    const phrases = matchesAround(lower, PHRASE_WORDS, PHRASES, 32, 32)
    return banners.length && phrases.length ? [...banners, ...phrases].sort((a, b) => a.start - b.start) : banners.length ? banners : phrases
  },
}
