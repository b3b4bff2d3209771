import { type CompareOp, type Filter, type FilterValue, invalidFilter } from './scim-filter.js'

/** A single-valued attribute's SQL expression. */
export interface ScalarAttr {
  kind: 'string' | 'boolean' | 'date'
  sql: string
  /** Case-exact strings compare as written; the others case-insensitively (RFC 7643 caseExact). */
  caseExact?: boolean
}

/** A multi-valued attribute: an `exists (select 1 from … where` prefix and its sub-attributes. */
export interface MultiAttr {
  kind: 'multi'
  exists: string
  sub: Record<string, ScalarAttr>
  /** The sub-attribute a bare path means (`emails` → `emails.value`). */
  primary: string
}

/** Filterable attributes of a resource type, by lower-cased path. */
export type AttrMap = Record<string, ScalarAttr | MultiAttr>

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`)
}

function resolve(attrs: AttrMap, path: string): { attr: ScalarAttr; multi?: MultiAttr } {
  const direct = attrs[path]
  if (direct && direct.kind !== 'multi') return { attr: direct }
  if (direct && direct.kind === 'multi') return { attr: direct.sub[direct.primary], multi: direct }
  const dot = path.indexOf('.')
  if (dot > 0) {
    const parent = attrs[path.slice(0, dot)]
    const sub = parent?.kind === 'multi' ? parent.sub[path.slice(dot + 1)] : undefined
    if (parent?.kind === 'multi' && sub) return { attr: sub, multi: parent }
  }
  throw invalidFilter(`attribute "${path}" is not filterable`)
}

function comparison(attr: ScalarAttr, op: CompareOp, value: FilterValue, params: unknown[]): string {
  const col = attr.sql
  if (value === null) {
    if (op === 'eq') return `${col} is null`
    if (op === 'ne') return `${col} is not null`
    throw invalidFilter(`"${op} null" is not supported`)
  }
  if (attr.kind === 'boolean') {
    if (typeof value !== 'boolean' || (op !== 'eq' && op !== 'ne')) throw invalidFilter('boolean attributes support only eq and ne with true or false')
    params.push(value)
    return op === 'eq' ? `${col} = ?` : `${col} is distinct from ?`
  }
  if (typeof value !== 'string') throw invalidFilter(`a ${attr.kind} attribute compares with a string, not ${JSON.stringify(value)}`)
  if (attr.kind === 'date') {
    const t = Date.parse(value)
    if (!Number.isFinite(t)) throw invalidFilter(`"${value}" is not a date`)
    if (op === 'co' || op === 'sw' || op === 'ew') throw invalidFilter(`"${op}" does not apply to dates`)
    params.push(new Date(t).toISOString())
    const sqlOp = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' }[op]
    return `${col} ${sqlOp} ?::timestamptz`
  }
  const lhs = attr.caseExact ? col : `lower(${col})`
  const v = attr.caseExact ? value : value.toLowerCase()
  switch (op) {
    case 'eq':
      params.push(v)
      return `${lhs} = ?`
    case 'ne':
      params.push(v)
      return `(${col} is null or ${lhs} <> ?)`
    case 'co':
      params.push(`%${likeEscape(v)}%`)
      return `${lhs} like ? escape '\\'`
    case 'sw':
      params.push(`${likeEscape(v)}%`)
      return `${lhs} like ? escape '\\'`
    case 'ew':
      params.push(`%${likeEscape(v)}`)
      return `${lhs} like ? escape '\\'`
    default: {
      params.push(v)
      const sqlOp = { gt: '>', ge: '>=', lt: '<', le: '<=' }[op]
      return `${lhs} ${sqlOp} ?`
    }
  }
}

function present(attr: ScalarAttr): string {
  return attr.kind === 'string' ? `(${attr.sql} is not null and ${attr.sql} <> '')` : `${attr.sql} is not null`
}

function compile(f: Filter, attrs: AttrMap, params: unknown[]): string {
  switch (f.kind) {
    case 'and':
    case 'or':
      return `(${compile(f.left, attrs, params)} ${f.kind} ${compile(f.right, attrs, params)})`
    case 'not':
      return `not coalesce(${compile(f.expr, attrs, params)}, false)`
    case 'pr': {
      const { attr, multi } = resolve(attrs, f.path)
      return multi ? `exists (${multi.exists} ${present(attr)})` : present(attr)
    }
    case 'compare': {
      const { attr, multi } = resolve(attrs, f.path)
      const cond = comparison(attr, f.op, f.value, params)
      return multi ? `exists (${multi.exists} ${cond})` : cond
    }
    case 'valuePath': {
      const multi = attrs[f.path]
      if (multi?.kind !== 'multi') throw invalidFilter(`"${f.path}" is not a multi-valued attribute`)
      return `exists (${multi.exists} ${compile(f.filter, multi.sub, params)})`
    }
  }
}

/** Compiles a parsed filter to a SQL condition with `?` parameters over the given attribute map. */
export function filterToSql(f: Filter, attrs: AttrMap): { sql: string; params: unknown[] } {
  const params: unknown[] = []
  return { sql: compile(f, attrs, params), params }
}
