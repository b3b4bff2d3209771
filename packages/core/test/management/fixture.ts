import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import pino from 'pino'
import { ModelCatalog } from '../../src/catalog/model-catalog.js'
import type { Role } from '../../src/context/principal.js'
import { type Database, migrateDatabase, openDatabase } from '../../src/data/database.js'
import { CORE_ENTITIES } from '../../src/data/entities.js'
import { CORE_MIGRATIONS } from '../../src/data/migrations/index.js'
import '../../src/events/core-events.js'
import { type DomainEventName, EventBus, type EventMeta } from '../../src/events/event-bus.js'
import { ApiKeyAuthenticator } from '../../src/identity/api-key-authenticator.js'
import { IdentityService, type InvitationMessage, type InvitationSender } from '../../src/identity/identity-service.js'
import { registerManagementRoutes } from '../../src/management/management-routes.js'
import { ProviderKeyCipher } from '../../src/identity/provider-key-cipher.js'
import { ProviderRegistry } from '../../src/providers/provider-registry.js'
import { RoutingService } from '../../src/routing/routing-service.js'
import { credentialFrom } from '../../src/server/credentials.js'
import { createTestDatabase, type TestDatabase } from '../../src/testing/test-database.js'

/** Every core domain event the identity service and the management routes emit. */
export const CORE_EVENT_NAMES: DomainEventName[] = [
  'organization.created',
  'organization.updated',
  'project.created',
  'project.updated',
  'project.deleted',
  'member.invited',
  'member.joined',
  'member.roleChanged',
  'member.removed',
  'apiKey.created',
  'apiKey.revoked',
  'providerKey.created',
  'providerKey.deleted',
  'model.updated',
  'provider.updated',
  'deployment.updated',
  'routingPolicy.updated',
]

/** An event seen by the fixture's transactional subscriber. */
export interface SeenEvent {
  name: DomainEventName
  payload: any
  meta: EventMeta
}

/** An invitation sender that keeps what it was asked to send. */
export class CapturingInvitationSender implements InvitationSender {
  readonly sent: InvitationMessage[] = []
  fail = false
  async send(invitation: InvitationMessage): Promise<void> {
    if (this.fail) throw new Error('mail server down')
    this.sent.push(invitation)
  }
}

/** A user with a role in an organization and an API key carrying that role. */
export interface TestMember {
  userId: string
  email: string
  role: Role
  key: string
  keyId: string
}

/** The management API on a fresh database, without the rest of the gateway. */
export interface ManagementFixture {
  app: FastifyInstance
  db: Database
  testDb: TestDatabase
  identity: IdentityService
  apiKeys: ApiKeyAuthenticator
  catalog: ModelCatalog
  routing: RoutingService
  events: EventBus
  sender: CapturingInvitationSender
  seen: SeenEvent[]
  encryptionKey: Buffer
  /** Routes as registered (method, url, config), collected with an onRoute hook. */
  routes: { method: string; url: string; config: any }[]
  /** A request with `Authorization: Bearer <key>`. */
  call(key: string | undefined, method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>
  /** A new user (with their personal organization) added to `organizationId` with `role`, and a key of that role. */
  member(organizationId: string, role: Role, options?: { projectIds?: string[]; keyProjectId?: string; platformAdmin?: boolean }): Promise<TestMember>
  close(): Promise<void>
}

let counter = 0

/** A unique email for a test user. */
export function uniqueEmail(tag = 'user'): string {
  counter++
  return `${tag}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.test`
}

/**
 * Opens ONE database (PostgreSQL when DATABASE_URL is set, else a PGlite copy), migrates it and
 * mounts the management routes in their own scope of a bare fastify app with @fastify/swagger.
 */
export async function createManagementFixture(): Promise<ManagementFixture> {
  const log = pino({ level: 'silent' })
  const testDb = await createTestDatabase()
  const db = await openDatabase(testDb.options, CORE_ENTITIES as never, CORE_MIGRATIONS)
  await migrateDatabase(db)
  const events = new EventBus(log)
  const seen: SeenEvent[] = []
  for (const name of CORE_EVENT_NAMES) events.on(name, (payload, meta) => void seen.push({ name, payload, meta }), { transactional: true })
  const apiKeys = new ApiKeyAuthenticator(db, log)
  const catalog = new ModelCatalog(db)
  await catalog.reload()
  const sender = new CapturingInvitationSender()
  const encryptionKey = Buffer.alloc(32, 9)
  const identity = new IdentityService({
    db,
    events,
    apiKeys,
    encryptionKey,
    invitationSender: sender,
    invitations: { acceptUrl: 'https://gateway.example.test/invitations/accept', ttlDays: 7 },
    log,
  })
  const registry = new ProviderRegistry([])
  const routing = new RoutingService({ db, catalog, registry, events, cipher: new ProviderKeyCipher(encryptionKey), configProviders: [], log })
  await routing.start()
  const app = Fastify({ logger: false })
  await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 'test', version: '0' } } })
  const routes: ManagementFixture['routes'] = []
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, config: r.config })
  })
  const authenticate = async (request: { headers: import('node:http').IncomingHttpHeaders }) => {
    const secret = credentialFrom(request.headers)
    return secret ? apiKeys.authenticate(secret) : undefined
  }
  await app.register(async (scope) => registerManagementRoutes(scope, { identity, catalog, events, authenticate, routing }))
  await app.ready()

  const fixture: ManagementFixture = {
    app,
    db,
    testDb,
    identity,
    apiKeys,
    catalog,
    routing,
    events,
    sender,
    seen,
    encryptionKey,
    routes,
    call(key, method, url, body) {
      return app.inject({ method, url, headers: key ? { authorization: `Bearer ${key}` } : {}, ...(body === undefined ? {} : { payload: body as never }) })
    },
    async member(organizationId, role, options = {}) {
      const email = uniqueEmail(role)
      const user = await identity.createUser({ email, platformAdmin: options.platformAdmin })
      await identity.addMember({ organizationId, userId: user.id, role, projectIds: options.projectIds })
      let projectId = options.keyProjectId ?? options.projectIds?.[0]
      if (!projectId) projectId = (await identity.listProjects(organizationId))[0].id
      const key = await identity.createApiKey({ organizationId, projectId, ownerUserId: user.id, name: `${role} key` })
      return { userId: user.id, email, role, key: key.secret, keyId: key.id }
    },
    async close() {
      await app.close()
      await apiKeys.close()
      catalog.stop()
      routing.stop()
      await registry.close()
      await db.close()
      await testDb.drop()
    },
  }
  return fixture
}
