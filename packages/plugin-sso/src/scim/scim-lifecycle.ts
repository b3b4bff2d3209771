import { type EventMeta, isTollgateError } from '@tollgate/core'
import { transaction } from '../db.js'
import type { SsoContext } from '../plugin-context.js'

/**
 * What SCIM changes do to a user's access. Deactivation ends their sessions in the
 * organization, revokes their API keys there and removes their membership — rows are kept, so
 * usage stays attributed to the user and the keys (spend history, analytics, audit). The last
 * owner keeps the membership (core refuses to remove it) but still loses keys and sessions.
 */
export class ScimLifecycle {
  constructor(private readonly ctx: SsoContext) {}

  /** Cuts a user's access in an organization; returns the number of sessions ended. */
  async deactivate(organizationId: string, userId: string): Promise<number> {
    const ended = await transaction(this.ctx.db, (em) => this.ctx.sessions.endForUserInOrganization(em, userId, organizationId))
    try {
      await this.ctx.identity.removeMember(organizationId, userId)
    } catch (err) {
      if (!isTollgateError(err)) throw err
      if (err.code === 'TOLLGATE_ERR_REQUEST_CONFLICT') {
        this.ctx.log.warn({ organizationId, userId }, 'scim deactivation kept the last owner\'s membership; keys and sessions are revoked')
        await this.#revokeKeys(organizationId, userId)
      } else if (err.code !== 'TOLLGATE_ERR_REQUEST_NOT_FOUND') throw err
    }
    return ended
  }

  async #revokeKeys(organizationId: string, userId: string): Promise<void> {
    for (;;) {
      const keys = (await this.ctx.identity.listApiKeys(organizationId, { ownerUserId: userId, limit: 500 })).filter((k) => !k.revokedAt)
      if (keys.length === 0) return
      for (const k of keys) await this.ctx.identity.revokeApiKey(k.id)
    }
  }

  /** Brings an active user's membership in line with their groups (JIT add, role change, removal). */
  async syncRole(organizationId: string, userId: string): Promise<void> {
    const groups = await this.ctx.provisioner.groupsOf(organizationId, userId)
    await this.ctx.provisioner.syncMembership(organizationId, userId, groups)
  }
}

/** Event metadata of a SCIM request: the token acts as a system actor. */
export function scimMeta(organizationId: string, tokenId: string, ip: string, userAgent: string | undefined): Partial<EventMeta> {
  return { organizationId, actor: { type: 'system', id: `scim-token:${tokenId}` }, ip, userAgent }
}
