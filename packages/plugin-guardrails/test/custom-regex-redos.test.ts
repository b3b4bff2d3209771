import t from 'tap'
import { compileCustomRegex, RuleSet, rulesFor } from '../src/index.ts'

/**
 * Custom regexes run on RE2 (re2js): a linear-time automaton, so the classic catastrophic
 * patterns cannot backtrack. Matching 100 KB of adversarial input stays bounded, and time grows
 * linearly with the input; features that would need backtracking are refused at save time.
 */
const EVIL = ['(a+)+$', '^(a|a)*$', '(a|aa)+$', '(.*a){20}$', '^(a+)+b', '(\\w+\\s?)*$', '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$']

/** CPU time of one scan (median of three), so a shared machine's scheduling does not count. */
function timeMatch(pattern: string, input: string): { ms: number; hits: number } {
  const rules = new RuleSet(rulesFor({ customRegexes: [{ id: 'evil', pattern, action: 'block' }] }, [], {}), { rules: { '*': { action: 'off' }, 'custom.regex.evil': { action: 'block' } } })
  const runs: number[] = []
  let hits = 0
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage()
    hits = rules.scan(input, 'input').length
    const c = process.cpuUsage(c0)
    runs.push((c.user + c.system) / 1000)
  }
  return { ms: runs.sort((a, b) => a - b)[1], hits }
}

for (const pattern of EVIL) {
  t.test(`${pattern}: 100 KB adversarial input in bounded, linear time`, async (t) => {
    const small = `${'a'.repeat(10_000)}!`
    const big = `${'a'.repeat(100_000)}!`
    timeMatch(pattern, small)
    const s = timeMatch(pattern, small)
    const b = timeMatch(pattern, big)
    t.ok(b.ms < 1000, `100 KB took ${b.ms.toFixed(1)} ms of CPU (a backtracking engine would not finish)`)
    // 10× the input may cost at most ~30× the time (linear with generous noise), never exponential.
    t.ok(b.ms < Math.max(30 * s.ms, 200), `10 KB ${s.ms.toFixed(1)} ms → 100 KB ${b.ms.toFixed(1)} ms of CPU`)
  })
}

t.test('the same patterns on the JavaScript engine would backtrack catastrophically (what RE2 avoids)', async (t) => {
  const backtracking = /^(a|a)*$/
  const c0 = process.cpuUsage()
  const matched = backtracking.test(`${'a'.repeat(22)}!`)
  const c = process.cpuUsage(c0)
  t.equal(matched, false)
  const ms = (c.user + c.system) / 1000
  t.ok(ms > 10, `a 23-character input already takes ${ms.toFixed(0)} ms with backtracking`)
})

t.test('patterns that need backtracking or match nothing useful are refused at save time', async (t) => {
  for (const pattern of ['(a+)\\1', '(?=a)b', '(?<!x)y', '(?<name>a)\\k<name>', '', '('.repeat(3)]) {
    t.throws(() => compileCustomRegex({ id: 'x', pattern, action: 'block' }, 'customRegexes[0].pattern'), { code: 'TOLLGATE_ERR_GUARDRAILS_INVALID_PATTERN', field: 'customRegexes[0].pattern' }, JSON.stringify(pattern))
  }
  t.throws(() => compileCustomRegex({ id: 'x', pattern: 'a'.repeat(1001), action: 'block' }, 'p'), { code: 'TOLLGATE_ERR_GUARDRAILS_INVALID_PATTERN' })
})

t.test('an accepted custom regex finds what it should, case-insensitively when asked', async (t) => {
  const rules = new RuleSet(rulesFor({ customRegexes: [{ id: 'ticket', pattern: 'tck-[0-9]{6}', caseInsensitive: true, action: 'redact' }] }, [], {}), {})
  const found = rules.scan('see TCK-123456 and tck-654321, not TCK-12', 'input').filter((f) => f.ruleId === 'custom.regex.ticket')
  t.same(found.map((f) => [f.start, f.end]), [[4, 14], [19, 29]])
})
