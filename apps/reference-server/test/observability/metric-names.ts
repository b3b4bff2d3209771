import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'

const ROOT = new URL('../../../../', import.meta.url).pathname

/** PromQL words that look like identifiers but are functions, keywords or label names, never metrics. */
const NOT_METRICS = new Set(['sum', 'by', 'rate', 'increase', 'histogram_quantile', 'clamp_min', 'max', 'le', 'job', 'instance', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'bool'])

/** Every PromQL expression of the Grafana dashboard, by panel title. */
export function dashboardExpressions(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(`${ROOT}observability/grafana/tollgate-dashboard.json`, 'utf8'))
  const out: { where: string; expr: string }[] = []
  for (const panel of dashboard.panels) for (const target of panel.targets ?? []) out.push({ where: `dashboard panel "${panel.title}"`, expr: target.expr })
  for (const v of dashboard.templating.list) if (v.type === 'query') out.push({ where: `dashboard variable ${v.name}`, expr: v.definition.replace(/^label_values\((\w+),.*$/, '$1') })
  return out
}

/** Every PromQL expression of the alert rules, by alert name. */
export function ruleExpressions(): { where: string; expr: string }[] {
  const rules = parseYaml(readFileSync(`${ROOT}observability/prometheus/alerts.yml`, 'utf8'))
  return rules.groups.flatMap((g: any) => g.rules.map((r: any) => ({ where: `alert ${r.alert}`, expr: r.expr as string })))
}

/**
 * Metric names an expression reads: identifiers outside label matchers, quoted strings and
 * durations, with histogram suffixes taken off (`x_bucket` reads the family `x`).
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\bby \([^)]*\)/g, '')
  const names = new Set<string>()
  for (const m of bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b/g)) {
    const word = m[1]
    if (NOT_METRICS.has(word) || /^\d/.test(word) || !word.includes('_') || /^e\d+$/.test(word)) continue
    names.add(word.replace(/_(bucket|sum|count)$/, ''))
  }
  return [...names]
}

/** Label names an expression groups by or matches on. */
export function labelNames(expr: string): string[] {
  const names = new Set<string>()
  for (const m of expr.matchAll(/\bby \(([^)]*)\)/g)) for (const l of m[1].split(',')) names.add(l.trim())
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) for (const l of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) names.add(l[1])
  return [...names].filter(Boolean)
}
