import type { Role } from '../context/principal.js'

/**
 * Who performs an identity change, as the management authorization resolved them. Service methods
 * that take an actor enforce the role rules (no escalation, key ceilings, last owner); without
 * one the call is a trusted system action (bootstrap, CLI, SCIM).
 */
export interface Actor {
  userId: string
  /** The actor's effective role in the organization acted on. */
  role: Role
  /** Projects a developer-role actor may act on. */
  projectIds?: readonly string[]
  platformAdmin?: boolean
  /** The API key the actor used, when it was one. */
  apiKeyId?: string
  ip?: string
  userAgent?: string
}

/** A user. */
export interface UserView {
  id: string
  email: string
  name: string | null
  platformAdmin: boolean
  createdAt: Date
}

/** An organization, with the caller's role when listed for a user. */
export interface OrganizationView {
  id: string
  name: string
  slug: string
  personal: boolean
  createdAt: Date
  role?: Role
}

/** A project. */
export interface ProjectView {
  id: string
  organizationId: string
  name: string
  createdAt: Date
}

/** A member of an organization. */
export interface MemberView {
  userId: string
  email: string
  name: string | null
  role: Role
  /** Developer grants (empty for other roles). */
  projectIds: string[]
  joinedAt: Date
}

/** A user's membership in one organization (what authorization needs). */
export interface MembershipInfo {
  id: string
  role: Role
  projectIds: string[]
}

/** The state of an invitation. */
export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired'

/** An invitation (never its token). */
export interface InvitationView {
  id: string
  organizationId: string
  email: string
  role: Role
  projectIds: string[]
  invitedBy: string
  status: InvitationStatus
  expiresAt: Date
  acceptedAt: Date | null
  createdAt: Date
}

/** An API key (never its secret or hash). */
export interface ApiKeyView {
  id: string
  organizationId: string
  projectId: string
  ownerUserId: string
  name: string
  prefix: string
  role: Role
  appName: string | null
  expiresAt: Date | null
  revokedAt: Date | null
  lastUsedAt: Date | null
  createdAt: Date
}

/** A newly created API key: the only time its secret is returned. */
export interface CreatedApiKey extends ApiKeyView {
  secret: string
}

/** A project's provider key: a hint of the secret, never the secret. */
export interface ProviderKeyView {
  id: string
  projectId: string
  provider: string
  label: string | null
  hint: string
  createdBy: string
  createdAt: Date
}

/** Resource kinds whose organization authorization looks up. */
export type ScopedResource = 'project' | 'api_key' | 'provider_key' | 'invitation' | 'member'

/** The organization (and project) a resource belongs to. */
export interface ResourceScope {
  organizationId: string
  projectId?: string
}
