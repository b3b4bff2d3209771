import t from 'tap'
import { RuleSet, rulesFor } from '../src/index.ts'
import { StreamGuard } from '../src/stream/stream-guard.ts'
import { TextGuard } from '../src/stream/text-guard.ts'
import { PLANTED } from './support/planted.ts'

/** The stream guard in isolation: bounded hold-back, growing matches, block, flush order. */
const rules = new RuleSet(rulesFor({}, [], {}), {})

t.test('text without matches is released with a lag of at most the window plus one release step', async (t) => {
  const g = new TextGuard(rules, 32_768, () => undefined)
  const words = 'the quick brown fox jumps over the lazy dog '.repeat(200)
  let out = ''
  let maxHeld = 0
  for (let i = 0; i < words.length; i += 7) {
    out += g.push(words.slice(i, i + 7))
    maxHeld = Math.max(maxHeld, g.held)
  }
  t.ok(maxHeld <= rules.window + 64 + 7, `held at most ${maxHeld} chars (window ${rules.window})`)
  t.ok(out.length >= words.length - rules.window - 64, 'everything but the window and a step is already out')
  out += g.push('', true)
  t.equal(out, words, 'and the flush releases the rest unchanged')
})

t.test('a private key block is held whole while it grows, then redacted', async (t) => {
  const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDndJt7NaG8T64qMJ9QyvAY42n1m0aOk5DAvPgKwaAFOWzxPxp7Y4GAW4rVJhfNCFiWFoWCLIkVU'
  const key = `-----BEGIN PRIVATE KEY-----\n${body}\n${body}\n${body}\n-----END PRIVATE KEY-----`
  const text = `here: ${key} done`
  const g = new TextGuard(rules, 32_768, () => undefined)
  let out = ''
  for (let i = 0; i < text.length; i += 5) out += g.push(text.slice(i, i + 5))
  out += g.push('', true)
  t.equal(out, 'here: [PRIVATE_KEY] done')
})

t.test('past maxHold (a match longer than any system rule makes), what is held is released redacted as it stands', async (t) => {
  const g = new TextGuard(rules, 1024, () => undefined)
  const head = '-----BEGIN PRIVATE KEY-----\n'
  let out = g.push(head)
  for (let i = 0; i < 40; i++) out += g.push('q8Zr2XkP0vLm4NcYb7TsWd1HgQe9JfA3uKoR6iVyBn5EtMx0CzLp\n')
  t.ok(g.held <= 1024 + 60, 'hold stays bounded')
  t.match(out, /^\[PRIVATE_KEY\]/, 'the held part went out as a placeholder')
  t.notOk(out.includes('BEGIN PRIVATE KEY'), 'the recognisable head never went out raw')
})

t.test('a block finding throws, naming the rule only', async (t) => {
  const strict = new RuleSet(rulesFor({}, [], {}), { rules: { 'secret.*': { action: 'block' } } })
  const g = new TextGuard(strict, 32_768, () => undefined)
  const key = PLANTED.find((p) => p.name === 'github token')!.value
  t.equal(g.push(`token ${key.slice(0, 10)}`), '')
  t.equal(g.push(key.slice(10)), '', 'nothing released yet')
  t.throws(() => g.push(' and then a long tail of ordinary text. '.repeat(12)), { code: 'TOLLGATE_ERR_GUARDRAILS_BLOCKED', message: /secret\.github/ }, 'the verdict comes before anything is released')
})

t.test('warn findings are reported once however often they are rescanned', async (t) => {
  const warn = new RuleSet(rulesFor({}, [], {}), { rules: { 'pii.email': { action: 'warn' } } })
  const seen: string[] = []
  const g = new TextGuard(warn, 32_768, (f) => seen.push(...f.map((x) => x.ruleId)))
  let out = ''
  for (const piece of ['write to a', 'da@exam', 'ple.org now', ' and then', ' more text']) out += g.push(piece)
  out += g.push('', true)
  t.equal(out, 'write to ada@example.org now and then more text')
  t.same(seen, ['pii.email'])
})

t.test('held text of a choice is released before its finish event; tool-call ids pass at once', async (t) => {
  const sg = new StreamGuard(rules, 32_768, () => undefined)
  const a = sg.transform({ events: [{ type: 'text', index: 0, text: 'hello ' }, { type: 'tool_call', index: 0, toolIndex: 0, id: 'c1', name: 'f', arguments: '' }] })
  t.same(a.events, [{ type: 'tool_call', index: 0, toolIndex: 0, id: 'c1', name: 'f', arguments: '' }], 'short text held, tool header sent')
  const b = sg.transform({ events: [{ type: 'tool_call', index: 0, toolIndex: 0, arguments: '{"a":1}' }, { type: 'finish', index: 0, reason: 'tool_calls' }] })
  t.same(b.events, [
    { type: 'text', index: 0, text: 'hello ' },
    { type: 'tool_call', index: 0, toolIndex: 0, arguments: '{"a":1}' },
    { type: 'finish', index: 0, reason: 'tool_calls' },
  ])
  const c = sg.transform({ events: [], last: true })
  t.same(c.events, [], 'nothing left at the end')
})

t.test('overlapping matches: a straddling match and a still-growing one are both held until safe', async (t) => {
  // The ticket regex overlaps the start of a PEM block that keeps growing.
  const overlapping = new RuleSet(rulesFor({ customRegexes: [{ id: 'ticket', pattern: 'TCK-[0-9]+ -----BEGIN', action: 'redact', maxLength: 40 }] }, [], {}), {})
  const g = new TextGuard(overlapping, 32_768, () => undefined)
  const body = 'q8Zr2XkP0vLm4NcYb7TsWd1HgQe9JfA3uKoR6iVyBn5EtMx0CzLp\n'
  let out = g.push(`${'word '.repeat(80)}TCK-123 -----BEGIN PRIVATE KEY-----\n`)
  for (let i = 0; i < 12; i++) out += g.push(body)
  out += g.push('-----END PRIVATE KEY----- bye')
  out += g.push('', true)
  t.notOk(out.includes('q8Zr2XkP'), 'no key material went out')
  t.notOk(out.includes('BEGIN PRIVATE KEY'), 'nor its head')
})
