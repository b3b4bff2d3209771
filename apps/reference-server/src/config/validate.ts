import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { ConfigError } from './config-error.js'
import type { EnvOverride } from './env-overrides.js'
import { isPlainObject } from './merge.js'
import { serverConfigSchema } from './schema.js'
import type { ServerConfig } from './types.js'

// ajv-formats is CommonJS; its default export arrives wrapped under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv

let compiled: ValidateFunction | undefined

/** The compiled validator of the server config (compiled once per process). */
function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true })
    addFormats(ajv)
    compiled = ajv.compile(serverConfigSchema)
  }
  return compiled
}

/** The dotted path of an ajv error ("providers[0].kind"), including the offending key for required/additionalProperties. */
function errorPath(error: ErrorObject): string {
  const parts: string[] = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (error.keyword === 'required') parts.push(String(error.params.missingProperty))
  if (error.keyword === 'additionalProperties') parts.push(String(error.params.additionalProperty))
  let out = ''
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p
  return out || '(root)'
}

/** What is wrong, in words, for one ajv error. */
function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties': {
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {})
      return known.length > 0 ? `is not a known key (known keys: ${known.join(', ')})` : 'is not a known key'
    }
    case 'required':
      return 'is required'
    case 'enum':
      return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    case 'anyOf': {
      const options = (error.schema as { type?: string }[]).map((s) => s.type ?? 'a value of another shape')
      return `must be ${options.join(' or ')}`
    }
    case 'pattern':
      return `must match ${error.params.pattern}`
    default:
      return error.message ?? 'is invalid'
  }
}

/**
 * Turns ajv errors into one line per problem, naming the key path. Errors under an `anyOf`
 * collapse into the `anyOf` line, and a line says which environment variable set the value when
 * one did.
 */
export function describeConfigErrors(errors: ErrorObject[], env: EnvOverride[] = []): string[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath))
  const lines: string[] = []
  for (const error of errors) {
    if (error.keyword !== 'anyOf' && [...anyOfPaths].some((p) => error.instancePath === p && error.schemaPath.includes('/anyOf/'))) continue
    const path = errorPath(error)
    const under = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`)
    // The variable set this value, or (for an unknown key) set something inside it.
    const from = env.find((o) => under(path, o.path) || (error.keyword === 'additionalProperties' && under(o.path, path)))
    const line = `${path} ${describe(error)}${from ? ` (set by the environment variable ${from.name})` : ''}`
    if (!lines.includes(line)) lines.push(line)
  }
  return lines
}

/**
 * Validates a merged config against the server schema, applying the schema's defaults in place,
 * then checks what a schema cannot: every model names a configured provider, ids are unique.
 * Throws ConfigError listing every problem with its key path.
 */
export function validateServerConfig(config: Record<string, unknown>, env: EnvOverride[] = []): ServerConfig {
  const validate = validator()
  if (!validate(config)) throw new ConfigError(describeConfigErrors(validate.errors ?? [], env))

  const problems: string[] = []
  const providers = (config.providers ?? []) as { id: string }[]
  const ids = new Set<string>(['mock'])
  providers.forEach((p, i) => {
    if (providers.findIndex((q) => q.id === p.id) !== i) problems.push(`providers[${i}].id "${p.id}" is used by another provider`)
    ids.add(p.id)
  })
  const models = (config.models ?? []) as { name: string; provider: string }[]
  models.forEach((m, i) => {
    if (!ids.has(m.provider)) problems.push(`models[${i}].provider "${m.provider}" is not a configured provider (configured: ${[...ids].join(', ')})`)
    if (models.findIndex((n) => n.name === m.name) !== i) problems.push(`models[${i}].name "${m.name}" is used by another model`)
  })
  const key = (config.security as { providerKeyEncryptionKey?: string } | undefined)?.providerKeyEncryptionKey
  if (key !== undefined && !isEncryptionKey(key)) {
    problems.push('security.providerKeyEncryptionKey must be 32 bytes in base64 (generate one with: openssl rand -base64 32)')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  if (!isPlainObject(config.bootstrap)) config.bootstrap = {}
  return config as unknown as ServerConfig
}

/** True when a string is exactly 32 bytes in base64. */
export function isEncryptionKey(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(value.trim()) && Buffer.from(value.trim(), 'base64').length === 32
}
