import type { Logger } from 'pino'
import type { Role } from '../context/principal.js'
import type { Database } from '../data/database.js'
import type { EventBus } from '../events/event-bus.js'
import type { ApiKeyAuthenticator } from './api-key-authenticator.js'
import * as apiKeys from './api-keys.js'
import type { IdentityContext } from './identity-context.js'
import type {
  Actor,
  ApiKeyView,
  CreatedApiKey,
  InvitationView,
  MemberView,
  MembershipInfo,
  OrganizationView,
  ProjectView,
  ProviderKeyView,
  ResourceScope,
  ScopedResource,
  UserView,
} from './identity-types.js'
import type { InvitationSender } from './invitation-sender.js'
import * as invitations from './invitations.js'
import * as memberships from './memberships.js'
import * as organizations from './organizations.js'
import { ProviderKeyCache } from './provider-key-cache.js'
import { ProviderKeyCipher } from './provider-key-cipher.js'
import * as providerKeys from './provider-keys.js'
import * as projects from './projects.js'
import { resourceScope } from './resource-scope.js'
import * as users from './users.js'

export { LoggingInvitationSender } from './invitation-sender.js'
export type { InvitationMessage, InvitationSender } from './invitation-sender.js'
export type { CreateApiKeyInput } from './api-keys.js'
export type { CreatedInvitation } from './invitations.js'
export type { CreatedOrganization } from './organizations.js'
export type { SetProviderKeyInput } from './provider-keys.js'
export type { CreatedUser } from './users.js'
export type * from './identity-types.js'

/** What the identity service needs. */
export interface IdentityServiceDeps {
  db: Database
  events: EventBus
  /** Its cache is cleared after revocations, role changes and removals. */
  apiKeys: ApiKeyAuthenticator
  /** 32 bytes: encrypts provider keys at rest (AES-256-GCM). */
  encryptionKey: Buffer
  invitationSender: InvitationSender
  invitations: { acceptUrl: string; ttlDays: number }
  log: Logger
  /** How long a project's provider keys stay cached (default 30 s): the delay before another instance sees a change. */
  providerKeyCacheTtlMs?: number
}

/**
 * Users, organizations, memberships and roles, projects, invitations, API keys and projects' own
 * provider keys. Methods taking an `actor` enforce the role rules (no escalation, key ceilings,
 * last owner); without one they are trusted system actions. Every change emits its domain event
 * inside its transaction.
 */
export class IdentityService {
  readonly #ctx: IdentityContext

  constructor(deps: IdentityServiceDeps) {
    const ctx: IdentityContext = {
      db: deps.db,
      events: deps.events,
      apiKeys: deps.apiKeys,
      cipher: new ProviderKeyCipher(deps.encryptionKey),
      providerKeys: new ProviderKeyCache((projectId) => providerKeys.loadProjectProviderKeys(ctx, projectId), { ttlMs: deps.providerKeyCacheTtlMs }),
      invitationSender: deps.invitationSender,
      invitations: deps.invitations,
      log: deps.log,
    }
    this.#ctx = ctx
  }

  // Users

  /** Number of users (0: the gateway needs its first administrator). */
  countUsers(): Promise<number> {
    return users.countUsers(this.#ctx)
  }

  /** Creates a user with a personal organization (owned by them) and its default project. */
  createUser(input: { email: string; name?: string; platformAdmin?: boolean }): Promise<users.CreatedUser> {
    return users.createUser(this.#ctx, input)
  }

  /** A user by email, case-insensitively. */
  findUserByEmail(email: string): Promise<UserView | undefined> {
    return users.findUserByEmail(this.#ctx, email)
  }

  /** A user by id. */
  getUser(id: string): Promise<UserView | undefined> {
    return users.getUser(this.#ctx, id)
  }

  // Organizations

  /** Creates an organization owned by a user, with a default project. */
  createOrganization(input: { name: string; ownerUserId: string }, actor?: Actor): Promise<organizations.CreatedOrganization> {
    return organizations.createOrganization(this.#ctx, input, actor)
  }

  /** The organizations a user belongs to, with their role. */
  listOrganizationsForUser(userId: string): Promise<OrganizationView[]> {
    return organizations.listOrganizationsForUser(this.#ctx, userId)
  }

  /** An organization by id. */
  getOrganization(id: string): Promise<OrganizationView | undefined> {
    return organizations.getOrganization(this.#ctx, id)
  }

  /** Renames an organization. */
  updateOrganization(id: string, patch: { name?: string }, actor?: Actor): Promise<OrganizationView> {
    return organizations.updateOrganization(this.#ctx, id, patch, actor)
  }

  // Members

  /** A user's membership (role, developer grants) in an organization. */
  membership(organizationId: string, userId: string): Promise<MembershipInfo | undefined> {
    return memberships.membership(this.#ctx, organizationId, userId)
  }

  /** An organization's members. */
  listMembers(organizationId: string): Promise<MemberView[]> {
    return memberships.listMembers(this.#ctx, organizationId)
  }

  /** Adds an existing user to an organization (provisioning); with an actor, never above the actor's role. */
  addMember(input: { organizationId: string; userId: string; role: Role; projectIds?: readonly string[] }, actor?: Actor): Promise<void> {
    return memberships.addMember(this.#ctx, input, actor)
  }

  /** Changes a member's role and developer grants. */
  changeMemberRole(organizationId: string, userId: string, change: { role: Role; projectIds?: readonly string[] }, actor?: Actor): Promise<MemberView> {
    return memberships.changeMemberRole(this.#ctx, organizationId, userId, change, actor)
  }

  /** Removes a member and revokes their keys in the organization. */
  removeMember(organizationId: string, userId: string, actor?: Actor): Promise<void> {
    return memberships.removeMember(this.#ctx, organizationId, userId, actor)
  }

  // Projects

  /** Creates a project. */
  createProject(input: { organizationId: string; name: string }, actor?: Actor): Promise<ProjectView> {
    return projects.createProject(this.#ctx, input, actor)
  }

  /** An organization's live projects, optionally only some (a developer's grants). */
  listProjects(organizationId: string, onlyIds?: readonly string[]): Promise<ProjectView[]> {
    return projects.listProjects(this.#ctx, organizationId, onlyIds)
  }

  /** A live project by id. */
  getProject(id: string): Promise<ProjectView | undefined> {
    return projects.getProject(this.#ctx, id)
  }

  /** Renames a project. */
  updateProject(id: string, patch: { name?: string }, actor?: Actor): Promise<ProjectView> {
    return projects.updateProject(this.#ctx, id, patch, actor)
  }

  /** Deletes a project (soft); its keys stop working. */
  deleteProject(id: string, actor?: Actor): Promise<void> {
    return projects.deleteProject(this.#ctx, id, actor)
  }

  // Invitations

  /** Invites an email address with a role; the link goes through the invitation sender. */
  createInvitation(input: { organizationId: string; email: string; role: Role; projectIds?: readonly string[]; invitedBy: string }, actor?: Actor): Promise<invitations.CreatedInvitation> {
    return invitations.createInvitation(this.#ctx, input, actor)
  }

  /** An organization's invitations, newest first. */
  listInvitations(organizationId: string): Promise<InvitationView[]> {
    return invitations.listInvitations(this.#ctx, organizationId)
  }

  /** An invitation by id. */
  getInvitation(id: string): Promise<InvitationView | undefined> {
    return invitations.getInvitation(this.#ctx, id)
  }

  /** Revokes a pending invitation. */
  revokeInvitation(id: string, actor?: Actor): Promise<InvitationView> {
    return invitations.revokeInvitation(this.#ctx, id, actor)
  }

  /** Accepts an invitation token as a user (who must be its addressee). */
  acceptInvitation(token: string, userId: string, actor?: Actor): Promise<{ organizationId: string; role: Role; projectIds: string[] }> {
    return invitations.acceptInvitation(this.#ctx, token, userId, actor)
  }

  // API keys

  /** Creates an API key; the secret is in the result only. */
  createApiKey(input: apiKeys.CreateApiKeyInput, actor?: Actor): Promise<CreatedApiKey> {
    return apiKeys.createApiKey(this.#ctx, input, actor)
  }

  /** An organization's keys, optionally one member's or one project's. */
  listApiKeys(organizationId: string, filter?: { ownerUserId?: string; projectId?: string; limit?: number; offset?: number }): Promise<ApiKeyView[]> {
    return apiKeys.listApiKeys(this.#ctx, organizationId, filter)
  }

  /** A key by id (undefined when the actor may not see it). */
  getApiKey(id: string, actor?: Actor): Promise<ApiKeyView | undefined> {
    return apiKeys.getApiKey(this.#ctx, id, actor)
  }

  /** Revokes a key. */
  revokeApiKey(id: string, actor?: Actor): Promise<ApiKeyView> {
    return apiKeys.revokeApiKey(this.#ctx, id, actor)
  }

  // Provider keys

  /** Stores or replaces a project's own key for a provider (encrypted). */
  setProviderKey(input: providerKeys.SetProviderKeyInput, actor?: Actor): Promise<ProviderKeyView> {
    return providerKeys.setProviderKey(this.#ctx, input, actor)
  }

  /** A project's provider keys, hints only. */
  listProviderKeys(projectId: string): Promise<ProviderKeyView[]> {
    return providerKeys.listProviderKeys(this.#ctx, projectId)
  }

  /** Deletes a project's key for a provider. */
  deleteProviderKey(projectId: string, provider: string, actor?: Actor): Promise<void> {
    return providerKeys.deleteProviderKey(this.#ctx, projectId, provider, actor)
  }

  /**
   * The project's own key for a provider, decrypted, or undefined (use the gateway's key). Hot
   * path: served from memory; a project's keys are loaded once per TTL, "no key" included.
   */
  providerKeyFor(projectId: string, provider: string): Promise<string | undefined> {
    return this.#ctx.providerKeys.get(projectId, provider)
  }

  /** Every own provider key of a project, decrypted, keyed by provider (hot path, cached like providerKeyFor). */
  providerKeysOf(projectId: string): Promise<ReadonlyMap<string, string>> {
    return this.#ctx.providerKeys.all(projectId)
  }

  // Authorization support

  /** The organization (and project) of a resource, for route authorization. */
  resourceScope(kind: ScopedResource, id: string): Promise<ResourceScope | undefined> {
    return resourceScope(this.#ctx, kind, id)
  }
}
