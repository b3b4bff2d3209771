import { execFileSync, spawnSync } from 'node:child_process'

/** Path of a Prometheus tool when installed (Debian's `prometheus` package), else undefined. */
export function promBinary(name: 'promtool' | 'prometheus'): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path ? path : undefined
}

/** Runs `promtool check metrics` on an exposition text; returns its exit status and output. */
export function promtoolCheckMetrics(text: string): { status: number; output: string } {
  const r = spawnSync(promBinary('promtool') ?? 'promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` }
}

/** Runs promtool with arguments (check rules, check config); throws with its output on failure. */
export function promtool(...args: string[]): string {
  return execFileSync(promBinary('promtool') ?? 'promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** One sample of the exposition text. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the classic text format's samples (enough for tests: no escapes inside label values beyond \" and \\). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)
    if (!m) throw new Error(`unparsable exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    out.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return out
}

/** The value of the one sample matching name and (a subset of) labels; undefined when none, throws when several. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = parseSamples(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return hits[0]?.value
}

/** Sum of the samples matching name and (a subset of) labels. */
export function sumOf(text: string, name: string, labels: Record<string, string> = {}): number {
  return parseSamples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0)
}

/** Names of the metric families in an exposition (from its # TYPE lines). */
export function familyNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]))
}

/** Polls until `check` returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** The HTTP status an SDK call failed with (undefined when it succeeded). */
export async function failureStatus(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call
    return undefined
  } catch (err) {
    return (err as { status?: number }).status
  }
}
