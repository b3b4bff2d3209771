import { Ajv, type ErrorObject, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv

/** A new ajv instance with formats, defaults applied and all errors collected. */
export function createAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false, ...options })
  addFormats(ajv)
  return ajv
}

/** The JSON path of an ajv error, as a dotted path with indexes ("providers[0].baseUrl"). */
export function errorPath(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (error.keyword === 'required') parts.push(String(error.params.missingProperty))
  if (error.keyword === 'additionalProperties') parts.push(String(error.params.additionalProperty))
  let out = ''
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p
  return out
}

/** A human message for the first ajv error: "<path>: <what is wrong>". */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined, root = ''): { path: string; message: string } {
  const error = errors?.[0]
  if (!error) return { path: root, message: `${root || 'value'} is invalid` }
  const rel = errorPath(error)
  const path = root && rel ? `${root}.${rel}` : root || rel
  let what = error.message ?? 'is invalid'
  if (error.keyword === 'additionalProperties') what = 'is not a known property'
  else if (error.keyword === 'required') what = 'is required'
  else if (error.keyword === 'enum') what = `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
  return { path: path || '(root)', message: `${path || '(root)'} ${what}` }
}
