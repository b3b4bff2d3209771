import { ConfigError } from './config-error.js'
import { formatPath, isPlainObject, setPath } from './merge.js'
import { serverConfigSchema } from './schema.js'

/** Environment variables with a fixed meaning, and the config path each one sets. */
export const NAMED_ENV_VARS: Readonly<Record<string, readonly string[]>> = {
  PORT: ['port'],
  HOST: ['host'],
  DATABASE_URL: ['database', 'url'],
  TOLLGATE_DATA_DIR: ['dataDir'],
  TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY: ['security', 'providerKeyEncryptionKey'],
  LOG_LEVEL: ['logLevel'],
}

/** Vendor key variables that switch on a provider of the same id and kind. */
const PROVIDER_ENV = [
  { id: 'openai', kind: 'openai', key: 'OPENAI_API_KEY', baseUrl: 'OPENAI_BASE_URL' },
  { id: 'anthropic', kind: 'anthropic', key: 'ANTHROPIC_API_KEY', baseUrl: 'ANTHROPIC_BASE_URL' },
] as const

/** Prefix of the generic form: `TOLLGATE__server__bodyLimitBytes=1048576`, `TOLLGATE__providers__0__apiKey=…`. */
export const GENERIC_ENV_PREFIX = 'TOLLGATE__'

type Schema = Record<string, any>

/** The schema node at a path (following properties, items and anyOf), or undefined when the path leaves the schema. */
function schemaAt(schema: Schema | undefined, path: (string | number)[]): Schema | undefined {
  let node = schema
  for (const seg of path) {
    if (!node) return undefined
    const current: Schema = node.anyOf ? (node.anyOf.find((s: Schema) => (typeof seg === 'number' ? s.type === 'array' : s.type === 'object')) ?? node) : node
    if (typeof seg === 'number') node = current.items
    else node = current.properties?.[seg] ?? (isPlainObject(current.additionalProperties) ? current.additionalProperties : undefined)
  }
  return node
}

/**
 * Turns an environment string into the type the schema expects at that path: `true`/`false`
 * becomes a boolean and a number a number where the schema allows those types, objects and
 * arrays are parsed as JSON, anything else stays the string as given. A value that does not
 * convert is kept as the string, so validation reports it with the key path.
 */
function coerce(raw: string, node: Schema | undefined): unknown {
  const types = new Set<string>()
  const collect = (s: Schema | undefined) => {
    if (!s) return
    if (typeof s.type === 'string') types.add(s.type)
    if (Array.isArray(s.type)) for (const t of s.type) types.add(t)
    if (Array.isArray(s.anyOf)) for (const a of s.anyOf) collect(a)
    if (Array.isArray(s.enum)) for (const v of s.enum) types.add(typeof v)
  }
  collect(node)
  const text = raw.trim()
  if (types.has('boolean') && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true'
  if ((types.has('integer') || types.has('number')) && /^-?\d+(\.\d+)?$/.test(text)) return Number(text)
  if (types.has('string') && !text.startsWith('[') && !text.startsWith('{')) return raw
  if (types.has('object') || types.has('array') || types.size === 0) {
    try {
      return JSON.parse(raw)
    } catch {
      return raw
    }
  }
  return raw
}

/** An environment variable that changed the config, and the key path it set. */
export interface EnvOverride {
  name: string
  path: string
}

/**
 * Applies environment overrides to a config object (in place) and returns the variables used
 * with the paths they set. Empty variables are ignored. Order: the named variables, the vendor keys,
 * then the generic `TOLLGATE__a__b` form (most specific last).
 */
export function applyEnvOverrides(config: Record<string, unknown>, env: NodeJS.ProcessEnv): EnvOverride[] {
  const used: EnvOverride[] = []
  for (const [name, path] of Object.entries(NAMED_ENV_VARS)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    setPath(config, [...path], coerce(raw, schemaAt(serverConfigSchema, [...path])))
    used.push({ name, path: formatPath([...path]) })
  }

  for (const p of PROVIDER_ENV) {
    const key = env[p.key]
    if (key === undefined || key === '') continue
    const providers = (Array.isArray(config.providers) ? config.providers : []) as Record<string, unknown>[]
    let index = providers.findIndex((x) => isPlainObject(x) && x.id === p.id)
    if (index < 0) index = providers.push({ id: p.id, kind: p.kind }) - 1
    const entry = providers[index]
    entry.apiKey = key
    used.push({ name: p.key, path: `providers[${index}].apiKey` })
    const baseUrl = env[p.baseUrl]
    if (baseUrl) {
      entry.baseUrl = baseUrl
      used.push({ name: p.baseUrl, path: `providers[${index}].baseUrl` })
    }
    config.providers = providers
  }

  const generic = Object.keys(env)
    .filter((name) => name.startsWith(GENERIC_ENV_PREFIX) && env[name] !== undefined && env[name] !== '')
    .sort()
  for (const name of generic) {
    const segments = name.slice(GENERIC_ENV_PREFIX.length).split('__')
    if (segments.some((s) => s === '')) throw new ConfigError(`${name}: the variable name has an empty path segment (use TOLLGATE__<key>__<key>)`)
    const path = segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s))
    if (typeof path[0] === 'number') throw new ConfigError(`${name}: the first path segment must be a key, not an index`)
    setPath(config, path, coerce(env[name] as string, schemaAt(serverConfigSchema, path)))
    used.push({ name, path: formatPath(path) })
  }
  return used
}

