import { TollgateError } from '@tollgate/core'

/** SCIM schema URNs. */
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User'
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group'
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse'
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error'

/** A SCIM email. */
export interface ScimEmail {
  value: string
  type?: string
  primary?: boolean
}

/** The stored attributes of a SCIM user. */
export interface ScimUserInput {
  userName: string
  externalId: string | null
  displayName: string | null
  givenName: string | null
  familyName: string | null
  emails: ScimEmail[]
  active: boolean
}

/** The stored attributes of a SCIM group. */
export interface ScimGroupInput {
  displayName: string
  externalId: string | null
  /** SCIM user ids. */
  members: string[]
}

/** A SCIM invalidValue error naming the attribute. */
export function invalidValue(attribute: string, message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_SCIM_INVALID_VALUE', `${attribute} ${message}`, { field: attribute })
}

function key(body: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase()
  for (const k of Object.keys(body)) if (k.toLowerCase() === lower) return body[k]
  return undefined
}

function optionalString(body: Record<string, unknown>, name: string, max = 1024): string | null {
  const v = key(body, name)
  if (v === undefined || v === null) return null
  if (typeof v !== 'string' || v.length > max) throw invalidValue(name, `must be a string of at most ${max} characters`)
  return v
}

function bool(v: unknown, name: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback
  if (typeof v === 'boolean') return v
  // Some IdPs send "True"/"False" strings in PATCH values.
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true'
  throw invalidValue(name, 'must be a boolean')
}

/** Validates a User resource body (POST, PUT, or a patched resource). */
export function parseUser(body: unknown): ScimUserInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidValue('body', 'must be a User resource object')
  const b = body as Record<string, unknown>
  const userName = key(b, 'userName')
  if (typeof userName !== 'string' || userName.trim().length === 0 || userName.length > 320) throw invalidValue('userName', 'is required (a non-empty string of at most 320 characters)')
  const name = key(b, 'name')
  if (name !== undefined && name !== null && (typeof name !== 'object' || Array.isArray(name))) throw invalidValue('name', 'must be an object')
  const emailsRaw = key(b, 'emails') ?? []
  if (!Array.isArray(emailsRaw) || emailsRaw.length > 20) throw invalidValue('emails', 'must be an array of at most 20 emails')
  const emails = emailsRaw.map((e, i): ScimEmail => {
    if (!e || typeof e !== 'object') throw invalidValue(`emails[${i}]`, 'must be an object')
    const value = key(e as Record<string, unknown>, 'value')
    if (typeof value !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(value) || value.length > 320) throw invalidValue(`emails[${i}].value`, 'must be an email address')
    const type = key(e as Record<string, unknown>, 'type')
    return { value, type: typeof type === 'string' ? type : undefined, primary: bool(key(e as Record<string, unknown>, 'primary'), `emails[${i}].primary`, false) || undefined }
  })
  const n = (name ?? {}) as Record<string, unknown>
  return {
    userName: userName.trim(),
    externalId: optionalString(b, 'externalId'),
    displayName: optionalString(b, 'displayName'),
    givenName: optionalString(n, 'givenName'),
    familyName: optionalString(n, 'familyName'),
    emails,
    active: bool(key(b, 'active'), 'active', true),
  }
}

/** The email the gateway's user account gets: the primary email, else the first, else a userName that is an email. */
export function accountEmail(u: ScimUserInput): string {
  const email = u.emails.find((e) => e.primary)?.value ?? u.emails[0]?.value ?? (/^[^@\s]+@[^@\s]+$/.test(u.userName) ? u.userName : undefined)
  if (!email) throw invalidValue('emails', 'must hold an email (or userName must be one): the gateway identifies users by email')
  return email
}

/** Validates a Group resource body. */
export function parseGroup(body: unknown): ScimGroupInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidValue('body', 'must be a Group resource object')
  const b = body as Record<string, unknown>
  const displayName = key(b, 'displayName')
  if (typeof displayName !== 'string' || displayName.trim().length === 0 || displayName.length > 512) throw invalidValue('displayName', 'is required (a non-empty string of at most 512 characters)')
  const membersRaw = key(b, 'members') ?? []
  if (!Array.isArray(membersRaw) || membersRaw.length > 100_000) throw invalidValue('members', 'must be an array')
  const members = membersRaw.map((m, i) => {
    const value = m && typeof m === 'object' ? key(m as Record<string, unknown>, 'value') : undefined
    if (typeof value !== 'string') throw invalidValue(`members[${i}].value`, 'must be a User id')
    return value
  })
  return { displayName: displayName.trim(), externalId: optionalString(b, 'externalId'), members: [...new Set(members)] }
}
