import { TollgateError } from '@tollgate/core'

/** A comparison operator of SCIM filters (RFC 7644 §3.4.2.2). */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le'

/** A literal of a SCIM filter. */
export type FilterValue = string | number | boolean | null

/** A parsed SCIM filter. Attribute paths are lower-cased and stripped of their schema URN. */
export type Filter =
  | { kind: 'and' | 'or'; left: Filter; right: Filter }
  | { kind: 'not'; expr: Filter }
  | { kind: 'pr'; path: string }
  | { kind: 'compare'; op: CompareOp; path: string; value: FilterValue }
  | { kind: 'valuePath'; path: string; filter: Filter }

type Token =
  | { t: 'lparen' | 'rparen' | 'lbracket' | 'rbracket' }
  | { t: 'word'; v: string }
  | { t: 'value'; v: FilterValue }

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'])
const MAX_LENGTH = 4096
const MAX_DEPTH = 32

/** An invalidFilter error naming what is wrong. */
export function invalidFilter(message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_SCIM_INVALID_FILTER', `filter: ${message}`, { field: 'filter' })
}

function tokenize(text: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      out.push({ t: c === '(' ? 'lparen' : c === ')' ? 'rparen' : c === '[' ? 'lbracket' : 'rbracket' })
      i++
    } else if (c === '"') {
      // A JSON string literal, escapes included.
      let j = i + 1
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      if (j >= text.length) throw invalidFilter('unterminated string')
      try {
        out.push({ t: 'value', v: JSON.parse(text.slice(i, j + 1)) as string })
      } catch {
        throw invalidFilter(`bad string literal at ${i}`)
      }
      i = j + 1
    } else {
      let j = i
      while (j < text.length && !/[\s()[\]"]/.test(text[j])) j++
      const word = text.slice(i, j)
      const lower = word.toLowerCase()
      if (lower === 'true' || lower === 'false') out.push({ t: 'value', v: lower === 'true' })
      else if (lower === 'null') out.push({ t: 'value', v: null })
      else if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(word)) out.push({ t: 'value', v: Number(word) })
      else out.push({ t: 'word', v: word })
      i = j
    }
  }
  return out
}

/** Normalises an attribute path: schema URN prefix removed, lower-cased ("name.givenname"). */
export function normalizePath(path: string): string {
  const urn = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i
  const stripped = path.replace(urn, '')
  if (!/^[A-Za-z][\w$-]*(\.[A-Za-z][\w$-]*)?$/.test(stripped)) throw invalidFilter(`"${path}" is not an attribute path`)
  return stripped.toLowerCase()
}

/** Parses a SCIM filter: eq ne co sw ew gt ge lt le pr, and, or, not, parentheses, and value paths (`emails[type eq "work"]`). */
export function parseFilter(text: string): Filter {
  if (text.length > MAX_LENGTH) throw invalidFilter(`longer than ${MAX_LENGTH} characters`)
  const tokens = tokenize(text)
  let pos = 0
  const peek = () => tokens[pos]
  const isWord = (tok: Token | undefined, w: string): boolean => tok?.t === 'word' && tok.v.toLowerCase() === w

  function orExpr(depth: number): Filter {
    let left = andExpr(depth)
    while (isWord(peek(), 'or')) {
      pos++
      left = { kind: 'or', left, right: andExpr(depth) }
    }
    return left
  }
  function andExpr(depth: number): Filter {
    let left = unary(depth)
    while (isWord(peek(), 'and')) {
      pos++
      left = { kind: 'and', left, right: unary(depth) }
    }
    return left
  }
  function unary(depth: number): Filter {
    if (depth > MAX_DEPTH) throw invalidFilter(`nested deeper than ${MAX_DEPTH}`)
    const tok = peek()
    if (isWord(tok, 'not')) {
      pos++
      if (peek()?.t !== 'lparen') throw invalidFilter('"not" must be followed by "("')
      pos++
      const expr = orExpr(depth + 1)
      if (peek()?.t !== 'rparen') throw invalidFilter('missing ")"')
      pos++
      return { kind: 'not', expr }
    }
    if (tok?.t === 'lparen') {
      pos++
      const expr = orExpr(depth + 1)
      if (peek()?.t !== 'rparen') throw invalidFilter('missing ")"')
      pos++
      return expr
    }
    if (tok?.t !== 'word') throw invalidFilter(tok ? 'expected an attribute path' : 'unexpected end')
    pos++
    const path = normalizePath(tok.v)
    const next = peek()
    if (next?.t === 'lbracket') {
      pos++
      const filter = orExpr(depth + 1)
      if (peek()?.t !== 'rbracket') throw invalidFilter('missing "]"')
      pos++
      return { kind: 'valuePath', path, filter }
    }
    if (isWord(next, 'pr')) {
      pos++
      return { kind: 'pr', path }
    }
    if (next?.t !== 'word' || !COMPARE_OPS.has(next.v.toLowerCase())) throw invalidFilter(`expected an operator after "${tok.v}"`)
    pos++
    const value = peek()
    if (value?.t !== 'value') throw invalidFilter(`expected a value after "${tok.v} ${next.v}"`)
    pos++
    return { kind: 'compare', op: next.v.toLowerCase() as CompareOp, path, value: value.v }
  }

  if (tokens.length === 0) throw invalidFilter('empty')
  const filter = orExpr(0)
  if (pos !== tokens.length) throw invalidFilter('unexpected text after the expression')
  return filter
}

/** Evaluates a filter on a plain object (PATCH value-path selection). Attribute names match case-insensitively. */
export function matches(obj: Record<string, unknown>, f: Filter): boolean {
  switch (f.kind) {
    case 'and':
      return matches(obj, f.left) && matches(obj, f.right)
    case 'or':
      return matches(obj, f.left) || matches(obj, f.right)
    case 'not':
      return !matches(obj, f.expr)
    case 'pr': {
      const v = getPath(obj, f.path)
      return v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0)
    }
    case 'valuePath': {
      const list = getPath(obj, f.path)
      return Array.isArray(list) && list.some((e) => e && typeof e === 'object' && matches(e as Record<string, unknown>, f.filter))
    }
    case 'compare': {
      const v = getPath(obj, f.path)
      const values = Array.isArray(v) ? v.map((e) => (e && typeof e === 'object' ? (e as Record<string, unknown>).value : e)) : [v]
      return values.some((x) => compare(x, f.op, f.value))
    }
  }
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj
  for (const part of path.split('.')) {
    if (Array.isArray(cur)) return cur.map((e) => (e && typeof e === 'object' ? keyed(e as Record<string, unknown>, part) : undefined)).filter((x) => x !== undefined)
    if (!cur || typeof cur !== 'object') return undefined
    cur = keyed(cur as Record<string, unknown>, part)
  }
  return cur
}

function keyed(obj: Record<string, unknown>, lowerKey: string): unknown {
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lowerKey) return obj[k]
  return undefined
}

function compare(actual: unknown, op: CompareOp, expected: FilterValue): boolean {
  if (op === 'eq' && expected === null) return actual === null || actual === undefined
  if (op === 'ne' && expected === null) return actual !== null && actual !== undefined
  if (actual === null || actual === undefined) return op === 'ne'
  if (typeof actual === 'string' && typeof expected === 'string') {
    const a = actual.toLowerCase()
    const e = expected.toLowerCase()
    switch (op) {
      case 'eq': return a === e
      case 'ne': return a !== e
      case 'co': return a.includes(e)
      case 'sw': return a.startsWith(e)
      case 'ew': return a.endsWith(e)
      case 'gt': return a > e
      case 'ge': return a >= e
      case 'lt': return a < e
      case 'le': return a <= e
    }
  }
  if (op === 'eq') return actual === expected
  if (op === 'ne') return actual !== expected
  if (typeof actual === 'number' && typeof expected === 'number') {
    return op === 'gt' ? actual > expected : op === 'ge' ? actual >= expected : op === 'lt' ? actual < expected : op === 'le' ? actual <= expected : false
  }
  return false
}
