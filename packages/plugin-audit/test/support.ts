import { generateKeyPairSync } from 'node:crypto'
import type { PluginInstance, TxEntityManager } from '@tollgate/core'
import { createTestGateway, type TestGateway } from '@tollgate/core/testing'
import { type AuditPluginConfig, type AuditService, AuditServiceRef, auditPlugin } from '@tollgate/plugin-audit'

/** A fresh Ed25519 key pair as PEM (checkpoint signing). */
export function ed25519Pem(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return { privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString() }
}

/** A test gateway with the audit plugin (and any other plugins), its audit service and a key pair. */
export interface AuditTestGateway {
  gw: TestGateway
  audit: AuditService
  keys: { privateKey: string; publicKey: string }
  /** A fork of the gateway's EntityManager for raw SQL. */
  em(): TxEntityManager
  /** Count of entries in an organization's chain. */
  count(organizationId?: string): Promise<number>
}

/** Builds the gateway; closes it (and drops its database) when the test ends. */
export async function auditGateway(
  t: { teardown(fn: () => unknown): void },
  options: { config?: Partial<Record<keyof AuditPluginConfig, unknown>>; plugins?: PluginInstance<any>[]; poolSize?: number } = {},
): Promise<AuditTestGateway> {
  const keys = ed25519Pem()
  const gw = await createTestGateway({
    plugins: [auditPlugin({ checkpoints: { privateKey: keys.privateKey }, requestLog: { pollIntervalMs: 50 }, ...options.config }), ...(options.plugins ?? [])],
    config: options.poolSize ? { database: { poolSize: options.poolSize } } : undefined,
  })
  t.teardown(() => gw.close())
  const em = () => gw.db.orm.em.fork() as unknown as TxEntityManager
  return {
    gw,
    audit: gw.services.get(AuditServiceRef),
    keys,
    em,
    async count(organizationId = gw.organizationId) {
      const [r] = await em().execute<{ n: number }[]>('select count(*)::int as n from audit_entry where organization_id = ?', [organizationId], 'all')
      return r.n
    },
  }
}

/** Authorization header for an API key. */
export function bearer(secret: string): Record<string, string> {
  return { authorization: `Bearer ${secret}` }
}

/** A platform administrator's API key (in an organization of their own). */
export async function platformAdminKey(gw: TestGateway): Promise<string> {
  const user = await gw.identity.createUser({ email: `padmin-${Math.random().toString(36).slice(2)}@example.test`, platformAdmin: true })
  const org = await gw.identity.createOrganization({ name: 'Platform Ops', ownerUserId: user.id })
  const key = await gw.identity.createApiKey({ organizationId: org.id, projectId: org.defaultProjectId, ownerUserId: user.id, name: 'padmin' })
  return key.secret
}

/** A key of a new member of the test organization with the given role. */
export async function memberKey(gw: TestGateway, role: 'admin' | 'member' | 'viewer' | 'owner'): Promise<{ secret: string; userId: string }> {
  const user = await gw.identity.createUser({ email: `${role}-${Math.random().toString(36).slice(2)}@example.test` })
  await gw.identity.addMember({ organizationId: gw.organizationId, userId: user.id, role })
  const key = await gw.identity.createApiKey({ organizationId: gw.organizationId, projectId: gw.projectId, ownerUserId: user.id, name: `${role} key` })
  return { secret: key.secret, userId: user.id }
}

/**
 * Flushes the request log until it holds `rows` requests of the organization. Usage events are
 * read only once every older transaction on the PostgreSQL server has ended (core's reader is
 * exactly-once by waiting, never by skipping), so other work on the server can delay them: poll,
 * bounded.
 */
export async function requestLogHolds(a: AuditTestGateway, rows: number, organizationId = a.gw.organizationId): Promise<number> {
  const deadline = Date.now() + 30_000
  for (;;) {
    await a.audit.flush()
    const [{ n }] = await a.em().execute<{ n: number }[]>('select count(*)::int as n from audit_request_log where organization_id = ?', [organizationId], 'all')
    if (n >= rows || Date.now() > deadline) return n
    await new Promise((r) => setTimeout(r, 50))
  }
}
