import type { Role } from '../context/principal.js'
import type { UsageEvent } from '../usage/usage-event.js'

/** Before/after of a changed resource, secrets already removed. */
export interface Change<T = Record<string, unknown>> {
  before?: T
  after?: T
}

declare module './event-bus.js' {
  interface DomainEvents {
    /** A proxied request's usage was recorded (emitted when the batch is written). */
    'usage.recorded': { events: UsageEvent[] }
    'organization.created': { organizationId: string; name: string; personal: boolean }
    'organization.updated': { organizationId: string } & Change
    'project.created': { organizationId: string; projectId: string; name: string }
    'project.updated': { organizationId: string; projectId: string } & Change
    'project.deleted': { organizationId: string; projectId: string }
    'member.invited': { organizationId: string; invitationId: string; email: string; role: Role }
    'member.invitationRevoked': { organizationId: string; invitationId: string; email: string }
    'member.joined': { organizationId: string; userId: string; role: Role }
    'member.roleChanged': { organizationId: string; userId: string; before: Role; after: Role }
    'member.removed': { organizationId: string; userId: string }
    'apiKey.created': { organizationId: string; apiKeyId: string; projectId: string; prefix: string; ownerUserId: string }
    'apiKey.revoked': { organizationId: string; apiKeyId: string }
    /** `replaced`: the project already had a key for the provider and this one replaced it (a rotation). */
    'providerKey.created': { organizationId: string; projectId: string; providerKeyId: string; provider: string; replaced?: boolean }
    'providerKey.deleted': { organizationId: string; projectId: string; providerKeyId: string; provider: string }
    'model.updated': { model: string } & Change
    /** A provider's stored settings changed (enabled, key — as a hint only —, attributes, region, limits, connection). */
    'provider.updated': { provider: string } & Change
    /** A deployment of a model was added, changed or removed. */
    'deployment.updated': { model: string; deploymentId: string } & Change
    /** A routing policy changed: global (platform), an organization's or a project's override. */
    'routingPolicy.updated': { scope: 'global' | 'organization' | 'project'; organizationId?: string; projectId?: string } & Change
  }
}
