import { TollgateError } from '@tollgate/core'
import { type Filter, matches, parseFilter } from './scim-filter.js'

/** How a resource type's attributes behave under PATCH: canonical names and which are multi-valued or complex. */
export interface PatchSchema {
  /** lower-case name → canonical name, for every attribute PATCH may touch. */
  names: Record<string, string>
  multi: Set<string>
  complex: Set<string>
}

type Json = Record<string, unknown>

function invalid(message: string, scimType = 'invalidValue'): TollgateError {
  return new TollgateError('TOLLGATE_ERR_SCIM_INVALID_VALUE', message, { field: scimType })
}

const CORE_URN = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i

/** Parses a PATCH path: `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`; undefined for an extension schema attribute (ignored). */
function parsePath(path: string, schema: PatchSchema): { attr: string; filter?: Filter; sub?: string } | undefined {
  const p = path.trim().replace(CORE_URN, '')
  if (/^urn:/i.test(p)) return undefined
  const m = /^([A-Za-z][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z][\w$-]*))?$/.exec(p)
  if (!m) throw invalid(`path "${path}" is not a valid attribute path`, 'invalidPath')
  const attr = schema.names[m[1].toLowerCase()]
  if (!attr) return undefined
  return { attr, filter: m[2] ? parseFilter(m[2]) : undefined, sub: m[3] }
}

function subKey(obj: Json, sub: string): string {
  return Object.keys(obj).find((k) => k.toLowerCase() === sub.toLowerCase()) ?? sub
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}

function sameValue(a: unknown, b: unknown): boolean {
  const av = a && typeof a === 'object' ? (a as Json).value : a
  const bv = b && typeof b === 'object' ? (b as Json).value : b
  return av !== undefined && String(av).toLowerCase() === String(bv).toLowerCase()
}

/** The attribute=value pairs of an `eq`-only filter (to create the element an `add` targets). */
function eqPairs(f: Filter): Json | undefined {
  if (f.kind === 'compare' && f.op === 'eq') return { [f.path]: f.value }
  if (f.kind === 'and') {
    const l = eqPairs(f.left)
    const r = eqPairs(f.right)
    return l && r ? { ...l, ...r } : undefined
  }
  return undefined
}

function setAttr(resource: Json, schema: PatchSchema, attr: string, value: unknown, op: 'add' | 'replace'): void {
  if (schema.multi.has(attr)) {
    const incoming = asList(value)
    if (op === 'replace') {
      resource[attr] = incoming
      return
    }
    const current = Array.isArray(resource[attr]) ? [...(resource[attr] as unknown[])] : []
    for (const v of incoming) if (!current.some((c) => sameValue(c, v))) current.push(v)
    resource[attr] = current
  } else if (schema.complex.has(attr) && value && typeof value === 'object' && !Array.isArray(value)) {
    resource[attr] = { ...((resource[attr] as Json | undefined) ?? {}), ...(value as Json) }
  } else {
    resource[attr] = value
  }
}

/**
 * Applies SCIM PATCH operations (RFC 7644 §3.5.2) to a resource's JSON: add, replace and remove,
 * with or without a path, value-path filters (`emails[type eq "work"].value`,
 * `members[value eq "…"]`). Attributes of other schemas and unknown attributes are ignored; the
 * result is then validated like a PUT.
 */
export function applyPatch(resource: Json, operations: unknown, schema: PatchSchema): Json {
  if (!Array.isArray(operations) || operations.length === 0) throw invalid('Operations must be a non-empty array')
  const out: Json = structuredClone(resource)
  for (const [i, raw] of operations.entries()) {
    if (!raw || typeof raw !== 'object') throw invalid(`Operations[${i}] must be an object`)
    const { op: rawOp, path, value } = raw as { op?: unknown; path?: unknown; value?: unknown }
    const op = typeof rawOp === 'string' ? rawOp.toLowerCase() : ''
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw invalid(`Operations[${i}].op must be add, replace or remove`)
    if (path !== undefined && typeof path !== 'string') throw invalid(`Operations[${i}].path must be a string`, 'invalidPath')
    if (path === undefined) {
      if (op === 'remove') throw invalid(`Operations[${i}]: remove needs a path`, 'noTarget')
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid(`Operations[${i}].value must be an object when there is no path`)
      for (const [k, v] of Object.entries(value as Json)) {
        const target = parsePath(k, schema)
        if (!target) continue
        if (target.sub) setAttr(out, schema, target.attr, { [target.sub]: v }, 'add')
        else setAttr(out, schema, target.attr, v, op)
      }
      continue
    }
    const target = parsePath(path, schema)
    if (!target) continue
    const { attr, filter, sub } = target
    if (!filter) {
      if (sub) {
        if (!schema.complex.has(attr)) throw invalid(`Operations[${i}].path "${path}": ${attr} has no sub-attributes`, 'invalidPath')
        const obj: Json = { ...((out[attr] as Json | undefined) ?? {}) }
        if (op === 'remove') delete obj[subKey(obj, sub)]
        else obj[subKey(obj, sub)] = value
        out[attr] = obj
      } else if (op === 'remove') {
        if (schema.multi.has(attr) && value !== undefined && Array.isArray(out[attr])) out[attr] = (out[attr] as unknown[]).filter((c) => !asList(value).some((v) => sameValue(c, v)))
        else delete out[attr]
      } else {
        if (value === undefined) throw invalid(`Operations[${i}].value is required for ${op}`)
        setAttr(out, schema, attr, value, op)
      }
      continue
    }
    if (!schema.multi.has(attr)) throw invalid(`Operations[${i}].path "${path}": a filter applies only to multi-valued attributes`, 'invalidPath')
    const list = Array.isArray(out[attr]) ? [...(out[attr] as Json[])] : []
    const hit = (e: unknown) => Boolean(e) && typeof e === 'object' && matches(e as Json, filter)
    if (op === 'remove') {
      out[attr] = sub ? list.map((e) => (hit(e) ? Object.fromEntries(Object.entries(e).filter(([k]) => k.toLowerCase() !== sub.toLowerCase())) : e)) : list.filter((e) => !hit(e))
      continue
    }
    if (value === undefined) throw invalid(`Operations[${i}].value is required for ${op}`)
    if (!list.some(hit)) {
      const base = eqPairs(filter)
      if (!base) throw invalid(`Operations[${i}].path "${path}" matches nothing`, 'noTarget')
      list.push(sub ? { ...base, [sub]: value } : { ...base, ...(value as Json) })
      out[attr] = list
      continue
    }
    out[attr] = list.map((e) => (hit(e) ? (sub ? { ...e, [subKey(e, sub)]: value } : { ...e, ...(value as Json) }) : e))
  }
  return out
}
