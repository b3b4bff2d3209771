/** Roles of a member in an organization, from most to least powerful. Developer is project-scoped. */
export const ROLES = ['owner', 'admin', 'member', 'developer', 'viewer'] as const

/** A role in an organization. */
export type Role = (typeof ROLES)[number]

/** Rank of a role: higher is more powerful. */
export const ROLE_RANK: Record<Role, number> = { owner: 50, admin: 40, member: 30, developer: 20, viewer: 10 }

/** True when `role` is at least `required`. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[required]
}

/** The lower of two roles. */
export function minRole(a: Role, b: Role): Role {
  return ROLE_RANK[a] <= ROLE_RANK[b] ? a : b
}

/** Who is making a request: resolved from an API key (or, with the SSO plugin, a session). */
export interface Principal {
  kind: 'api_key' | 'session'
  organizationId: string
  /** The project the key is scoped to; undefined for organization-wide sessions. */
  projectId?: string
  /** The API key's id and display prefix, when the principal is a key. */
  apiKeyId?: string
  apiKeyPrefix?: string
  apiKeyName?: string
  /** The member who owns the key (spend lands on them) or the signed-in user. */
  userId: string
  /** Effective role: never above the key creator's current role. */
  role: Role
  /** Projects a developer-role principal may act on. */
  projectIds?: string[]
  /** True for platform administrators (may manage the model catalog, read every organization). */
  platformAdmin: boolean
  /** App name from the key, for analytics. */
  appName?: string
  /** When true, the principal acts only in `organizationId`, like an API key (sessions signed in to one organization). */
  organizationOnly?: boolean
}
