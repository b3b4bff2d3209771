import { defineEntity, p } from '@mikro-orm/core'

/**
 * Core's entities, one defineEntity schema per table of core:0001_init. Migrations are written
 * by hand (explicit, reviewed SQL that runs the same on PostgreSQL and PGlite); these schemas
 * map the same columns for the ORM.
 */

export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'core_user',
  properties: {
    id: p.uuid().primary(),
    email: p.string(),
    name: p.string().nullable(),
    platformAdmin: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
    disabledAt: p.datetime().nullable(),
  },
})
/** A person who can sign in and own API keys. */
export class User extends UserSchema.class {}
UserSchema.setClass(User)

export const OrganizationSchema = defineEntity({
  name: 'Organization',
  tableName: 'core_organization',
  properties: {
    id: p.uuid().primary(),
    name: p.string(),
    slug: p.string(),
    personal: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
})
/** A tenant: members, projects, keys and spend belong to one. */
export class Organization extends OrganizationSchema.class {}
OrganizationSchema.setClass(Organization)

export const MembershipSchema = defineEntity({
  name: 'Membership',
  tableName: 'core_membership',
  properties: {
    id: p.uuid().primary(),
    organizationId: p.uuid(),
    userId: p.uuid(),
    role: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
})
/** A user's role in an organization. */
export class Membership extends MembershipSchema.class {}
MembershipSchema.setClass(Membership)

export const MembershipProjectSchema = defineEntity({
  name: 'MembershipProject',
  tableName: 'core_membership_project',
  properties: {
    membershipId: p.uuid().primary(),
    projectId: p.uuid().primary(),
  },
})
/** A project a developer-role member may act on. */
export class MembershipProject extends MembershipProjectSchema.class {}
MembershipProjectSchema.setClass(MembershipProject)

export const ProjectSchema = defineEntity({
  name: 'Project',
  tableName: 'core_project',
  properties: {
    id: p.uuid().primary(),
    organizationId: p.uuid(),
    name: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    deletedAt: p.datetime().nullable(),
  },
})
/** A project: API keys and provider keys are scoped to one. */
export class Project extends ProjectSchema.class {}
ProjectSchema.setClass(Project)

export const InvitationSchema = defineEntity({
  name: 'Invitation',
  tableName: 'core_invitation',
  properties: {
    id: p.uuid().primary(),
    organizationId: p.uuid(),
    email: p.string(),
    role: p.string(),
    projectIds: p.json<string[]>().default([]),
    tokenHash: p.string(),
    invitedBy: p.uuid(),
    expiresAt: p.datetime(),
    acceptedAt: p.datetime().nullable(),
    acceptedBy: p.uuid().nullable(),
    revokedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
})
/** An email invitation to join an organization with a role. */
export class Invitation extends InvitationSchema.class {}
InvitationSchema.setClass(Invitation)

export const ApiKeySchema = defineEntity({
  name: 'ApiKey',
  tableName: 'core_api_key',
  properties: {
    id: p.uuid().primary(),
    organizationId: p.uuid(),
    projectId: p.uuid(),
    ownerUserId: p.uuid(),
    name: p.string(),
    prefix: p.string(),
    secretHash: p.string().hidden(),
    role: p.string(),
    appName: p.string().nullable(),
    expiresAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
})
/** An API key: the principal of proxied requests. Only a hash of its secret is stored. */
export class ApiKey extends ApiKeySchema.class {}
ApiKeySchema.setClass(ApiKey)

export const ProviderKeySchema = defineEntity({
  name: 'ProviderKey',
  tableName: 'core_provider_key',
  properties: {
    id: p.uuid().primary(),
    organizationId: p.uuid(),
    projectId: p.uuid(),
    provider: p.string(),
    label: p.string().nullable(),
    ciphertext: p.string().hidden(),
    keyHint: p.string(),
    createdBy: p.uuid(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
})
/** A project's own key for a provider, encrypted with AES-256-GCM. */
export class ProviderKey extends ProviderKeySchema.class {}
ProviderKeySchema.setClass(ProviderKey)

export const ModelSchema = defineEntity({
  name: 'Model',
  tableName: 'core_model',
  properties: {
    name: p.string().primary(),
    provider: p.string(),
    upstreamModel: p.string(),
    available: p.boolean().default(true),
    inputPrice: p.bigint(),
    outputPrice: p.bigint(),
    cachedReadPrice: p.bigint(),
    cacheWritePrice: p.bigint(),
    marketInputPrice: p.bigint(),
    marketOutputPrice: p.bigint(),
    marketCachedReadPrice: p.bigint(),
    marketCacheWritePrice: p.bigint(),
    contextWindow: p.integer().nullable(),
    maxOutputTokens: p.integer().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
})
/** A catalog model: provider, availability and prices (microdollars per million tokens). */
export class Model extends ModelSchema.class {}
ModelSchema.setClass(Model)

/** Every core entity schema. */
export const CORE_ENTITIES = [
  UserSchema,
  OrganizationSchema,
  MembershipSchema,
  MembershipProjectSchema,
  ProjectSchema,
  InvitationSchema,
  ApiKeySchema,
  ProviderKeySchema,
  ModelSchema,
]
