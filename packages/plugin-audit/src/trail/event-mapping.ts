import { createExtensionPoint } from '@tollgate/core'

/**
 * How a domain event becomes an audit entry. Other plugins add theirs through the
 * `AuditExtensions.eventMappings` extension point; events nobody maps are still recorded with
 * an action and resource type derived from their name and payload (see `describeEvent`).
 */
export interface AuditEventMapping {
  /** The event name, or a prefix pattern ending in `.*` ("guardrails.*"). */
  event: string
  /** Skip the event (high-volume, per-request events that are not management actions). */
  ignore?: boolean
  /** The action recorded; default: the event name in snake case ("apiKey.created" → "api_key.created"). */
  action?: string | ((payload: Record<string, unknown>) => string)
  /** organization, project, api_key, provider_key, subscription, member, settings, credits, user, … */
  resourceType?: string | ((payload: Record<string, unknown>) => string)
  /** The id of the resource acted on. */
  resourceId?: (payload: Record<string, unknown>) => string | undefined
}

/** Extension points of the audit plugin. */
export const AuditExtensions = {
  /** Mappings of other plugins' events to audit actions and resource types. */
  eventMappings: createExtensionPoint<AuditEventMapping>('audit.eventMappings'),
} as const

/** What an event is recorded as. */
export interface EventDescription {
  action: string
  resourceType: string
  resourceId: string | null
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined)
const field = (name: string) => (p: Record<string, unknown>) => str(p[name])

/** Core's events, the authentication events the SSO plugin emits, and this plugin's own. */
export const BUILT_IN_MAPPINGS: AuditEventMapping[] = [
  { event: 'organization.*', resourceType: 'organization', resourceId: field('organizationId') },
  { event: 'project.*', resourceType: 'project', resourceId: field('projectId') },
  { event: 'member.invited', resourceType: 'member', resourceId: field('invitationId') },
  { event: 'member.invitationRevoked', action: 'member.invitation_revoked', resourceType: 'member', resourceId: field('invitationId') },
  { event: 'member.*', resourceType: 'member', resourceId: field('userId') },
  { event: 'apiKey.*', resourceType: 'api_key', resourceId: field('apiKeyId') },
  { event: 'providerKey.created', action: (p) => (p.replaced === true ? 'provider_key.rotated' : 'provider_key.created'), resourceType: 'provider_key', resourceId: field('providerKeyId') },
  { event: 'providerKey.*', resourceType: 'provider_key', resourceId: field('providerKeyId') },
  { event: 'model.updated', action: 'model.updated', resourceType: 'model', resourceId: field('model') },
  // Routing configuration (platform-wide unless the policy is an organization's or project's).
  { event: 'provider.updated', action: 'settings.provider_updated', resourceType: 'settings', resourceId: field('provider') },
  { event: 'deployment.updated', action: 'settings.deployment_updated', resourceType: 'settings', resourceId: field('deploymentId') },
  { event: 'routingPolicy.updated', action: 'settings.routing_policy_updated', resourceType: 'settings', resourceId: (p) => str(p.projectId) ?? str(p.organizationId) ?? str(p.scope) },
  { event: 'audit.retentionChanged', action: 'settings.retention_changed', resourceType: 'settings', resourceId: () => 'retention' },
  { event: 'audit.checkpointSigned', ignore: true },
  { event: 'audit.retainedTokens', ignore: true },
  { event: 'usage.*', ignore: true },
  // Authentication, as emitted by the SSO plugin (or any other sign-in method): see the README.
  ...['auth', 'sso'].flatMap((area): AuditEventMapping[] => [
    { event: `${area}.login`, action: 'auth.login', resourceType: 'user', resourceId: (p) => str(p.userId) ?? str(p.email) },
    { event: `${area}.logout`, action: 'auth.logout', resourceType: 'user', resourceId: (p) => str(p.userId) ?? str(p.email) },
    { event: `${area}.loginFailed`, action: 'auth.login_failed', resourceType: 'user', resourceId: (p) => str(p.userId) ?? str(p.email) ?? str(p.subject) },
  ]),
]

/** "apiKey" → "api_key", "policyChanged" → "policy_changed". */
export function snakeCase(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase()
}

/** Resource types recognised in an unknown event's name, most specific first. */
const NAME_HINTS: [RegExp, string][] = [
  [/subscription|plan/i, 'subscription'],
  [/credit|gift|topup|top_up|adjust/i, 'credits'],
  [/apikey|api_key/i, 'api_key'],
  [/providerkey|provider_key/i, 'provider_key'],
  [/login|logout|session|signin|signout/i, 'user'],
  [/invit|member|role/i, 'member'],
  [/polic|setting|rule|budget|rout|config|limit|alert|retention|connection/i, 'settings'],
  [/project/i, 'project'],
  [/organi[sz]ation/i, 'organization'],
]

/** The resource id of an unknown event: `<resource>Id`, then `id`, `resourceId`, then any `…Id` but the organization's. */
function guessResourceId(payload: Record<string, unknown>, resourceType: string): string | undefined {
  const camel = resourceType.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
  for (const k of [`${camel}Id`, 'id', 'resourceId']) if (str(payload[k])) return str(payload[k])
  for (const [k, v] of Object.entries(payload)) if (k !== 'organizationId' && /Id$/.test(k) && str(v)) return str(v)
  return undefined
}

function matches(pattern: string, name: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('.*')) return name.startsWith(pattern.slice(0, -1))
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1))
  return pattern === name
}

/** Finds the mapping of an event: exact names win over patterns; plugin mappings over built-in ones. */
export function findMapping(name: string, mappings: readonly AuditEventMapping[]): AuditEventMapping | undefined {
  return mappings.find((m) => m.event === name) ?? mappings.find((m) => m.event !== name && matches(m.event, name))
}

/** True when the event is skipped by a mapping or by the configured ignore patterns. */
export function isIgnored(name: string, mappings: readonly AuditEventMapping[], ignorePatterns: readonly string[]): boolean {
  return ignorePatterns.some((p) => matches(p, name)) || findMapping(name, mappings)?.ignore === true
}

/** Describes an event as an audit entry: from its mapping, or derived from its name and payload. */
export function describeEvent(name: string, payload: Record<string, unknown>, mappings: readonly AuditEventMapping[]): EventDescription {
  const m = findMapping(name, mappings)
  const [area, ...rest] = name.split('.')
  const defaultAction = [snakeCase(area), ...rest.map(snakeCase)].join('.')
  const action = typeof m?.action === 'function' ? m.action(payload) : (m?.action ?? defaultAction)
  const hinted = NAME_HINTS.find(([re]) => re.test(name))?.[1] ?? snakeCase(area)
  const resourceType = typeof m?.resourceType === 'function' ? m.resourceType(payload) : (m?.resourceType ?? hinted)
  const resourceId = m?.resourceId ? m.resourceId(payload) : guessResourceId(payload, resourceType)
  return { action, resourceType, resourceId: resourceId ?? null }
}
