import { randomUUID } from 'node:crypto'
import { type EventMeta, TollgateError } from '@tollgate/core'
import { isUuid, jsonOf, query, toDate } from '../db.js'
import type { SsoContext } from '../plugin-context.js'
import { parseFilter } from './scim-filter.js'
import { type AttrMap, filterToSql } from './scim-filter-sql.js'
import type { ScimLifecycle } from './scim-lifecycle.js'
import { applyPatch, type PatchSchema } from './scim-patch.js'
import { accountEmail, parseUser, type ScimEmail, type ScimUserInput, USER_SCHEMA } from './scim-resources.js'

interface UserRow {
  id: string
  user_id: string
  user_name: string
  external_id: string | null
  display_name: string | null
  given_name: string | null
  family_name: string | null
  emails: unknown
  active: boolean
  version: number
  created_at: Date | string
  updated_at: Date | string
}

const COLUMNS = 'u.id, u.user_id, u.user_name, u.external_id, u.display_name, u.given_name, u.family_name, u.emails, u.active, u.version, u.created_at, u.updated_at'

/** Filterable User attributes. */
const USER_ATTRS: AttrMap = {
  id: { kind: 'string', sql: 'u.id::text', caseExact: true },
  username: { kind: 'string', sql: 'u.user_name' },
  externalid: { kind: 'string', sql: 'u.external_id', caseExact: true },
  displayname: { kind: 'string', sql: 'u.display_name' },
  'name.givenname': { kind: 'string', sql: 'u.given_name' },
  'name.familyname': { kind: 'string', sql: 'u.family_name' },
  active: { kind: 'boolean', sql: 'u.active' },
  'meta.created': { kind: 'date', sql: 'u.created_at' },
  'meta.lastmodified': { kind: 'date', sql: 'u.updated_at' },
  emails: {
    kind: 'multi',
    exists: 'select 1 from jsonb_array_elements(u.emails) e where',
    primary: 'value',
    sub: { value: { kind: 'string', sql: "(e->>'value')" }, type: { kind: 'string', sql: "(e->>'type')" }, primary: { kind: 'boolean', sql: "(e->>'primary')::boolean" } },
  },
}

const USER_PATCH: PatchSchema = {
  names: { username: 'userName', externalid: 'externalId', displayname: 'displayName', name: 'name', emails: 'emails', active: 'active' },
  multi: new Set(['emails']),
  complex: new Set(['name']),
}

function notFound(): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'User not found')
}

function uniqueness(message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_SCIM_UNIQUENESS', message, { field: 'userName' })
}

/** SCIM Users of one organization, backed by sso_scim_user and core's users and memberships. */
export class ScimUsers {
  constructor(
    private readonly ctx: SsoContext,
    private readonly lifecycle: ScimLifecycle,
    private readonly baseUrl: string,
  ) {}

  /** A page of users matching a filter, in creation order. */
  async list(organizationId: string, opts: { filter?: string; startIndex: number; count: number }): Promise<{ total: number; resources: Record<string, unknown>[] }> {
    let where = 'u.organization_id = ?'
    const params: unknown[] = [organizationId]
    if (opts.filter) {
      const compiled = filterToSql(parseFilter(opts.filter), USER_ATTRS)
      where += ` and (${compiled.sql})`
      params.push(...compiled.params)
    }
    const [{ n }] = await query<{ n: number | string }>(this.ctx.db, `select count(*) as n from sso_scim_user u where ${where}`, params)
    const total = Number(n)
    if (opts.count === 0 || total === 0) return { total, resources: [] }
    const page = await query<UserRow>(this.ctx.db, `select ${COLUMNS} from sso_scim_user u where ${where} order by u.created_at, u.id limit ? offset ?`, [...params, opts.count, opts.startIndex - 1])
    const groups = await this.#groupsOf(page.map((r) => r.id))
    return { total, resources: page.map((r) => this.#resource(r, groups.get(r.id) ?? [])) }
  }

  /** A user as a SCIM resource, or undefined (unknown id or another organization's). */
  async get(organizationId: string, id: string): Promise<Record<string, unknown> | undefined> {
    const row = await this.#row(organizationId, id)
    if (!row) return undefined
    return this.#resource(row, (await this.#groupsOf([row.id])).get(row.id) ?? [])
  }

  /** Provisions a user: links or creates the gateway account, then gives the membership their groups' role. */
  async create(organizationId: string, body: unknown, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    const input = parseUser(body)
    const email = accountEmail(input)
    const [taken] = await query(this.ctx.db, 'select id from sso_scim_user where organization_id = ? and lower(user_name) = lower(?)', [organizationId, input.userName])
    if (taken) throw uniqueness(`userName "${input.userName}" is already provisioned in this organization`)
    let user = await this.ctx.identity.findUserByEmail(email)
    if (!user) {
      const display = input.displayName ?? ([input.givenName, input.familyName].filter(Boolean).join(' ') || undefined)
      try {
        await this.ctx.identity.createUser({ email, name: display })
      } catch {
        // Created concurrently by another request: fall through to the lookup.
      }
      user = await this.ctx.identity.findUserByEmail(email)
      if (!user) throw new TollgateError('TOLLGATE_ERR_SERVER_INTERNAL', 'Internal error: the user could not be created')
    }
    const id = randomUUID()
    const inserted = await query(
      this.ctx.db,
      `insert into sso_scim_user (id, organization_id, user_id, user_name, external_id, display_name, given_name, family_name, emails, active)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?) on conflict do nothing returning id`,
      [id, organizationId, user.id, input.userName, input.externalId, input.displayName, input.givenName, input.familyName, JSON.stringify(input.emails), input.active],
    )
    if (inserted.length === 0) throw uniqueness(`the user ${email} is already provisioned in this organization (under another userName)`)
    if (input.active) await this.lifecycle.syncRole(organizationId, user.id)
    await this.ctx.events.emit('scim.user.created', { organizationId, scimId: id, userId: user.id, userName: input.userName }, meta)
    return (await this.get(organizationId, id)) as Record<string, unknown>
  }

  /** Replaces a user's attributes (PUT); deactivation and reactivation take effect here. */
  async replace(organizationId: string, id: string, body: unknown, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    return this.#store(organizationId, id, parseUser(body), meta)
  }

  /** Applies PATCH operations and stores the result like a PUT. */
  async patch(organizationId: string, id: string, operations: unknown, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    const current = await this.get(organizationId, id)
    if (!current) throw notFound()
    return this.#store(organizationId, id, parseUser(applyPatch(current, operations, USER_PATCH)), meta)
  }

  /** Deprovisions a user: access cut as for deactivation, the SCIM record deleted; the account and its history stay. */
  async delete(organizationId: string, id: string, meta: Partial<EventMeta>): Promise<void> {
    const row = await this.#row(organizationId, id)
    if (!row) throw notFound()
    const ended = await this.lifecycle.deactivate(organizationId, row.user_id)
    await query(this.ctx.db, 'delete from sso_scim_user where id = ? returning id', [row.id])
    await this.ctx.events.emit('scim.user.deactivated', { organizationId, scimId: row.id, userId: row.user_id, sessionsEnded: ended }, meta)
    await this.ctx.events.emit('scim.user.deleted', { organizationId, scimId: row.id, userId: row.user_id }, meta)
  }

  async #store(organizationId: string, id: string, input: ScimUserInput, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    const row = await this.#row(organizationId, id)
    if (!row) throw notFound()
    if (input.userName.toLowerCase() !== row.user_name.toLowerCase()) {
      const [taken] = await query(this.ctx.db, 'select id from sso_scim_user where organization_id = ? and lower(user_name) = lower(?) and id <> ?', [organizationId, input.userName, id])
      if (taken) throw uniqueness(`userName "${input.userName}" is already provisioned in this organization`)
    }
    await query(
      this.ctx.db,
      `update sso_scim_user set user_name = ?, external_id = ?, display_name = ?, given_name = ?, family_name = ?, emails = ?::jsonb, active = ?,
         version = version + 1, updated_at = now() where id = ? returning id`,
      [input.userName, input.externalId, input.displayName, input.givenName, input.familyName, JSON.stringify(input.emails), input.active, id],
    )
    if (row.active && !input.active) {
      const ended = await this.lifecycle.deactivate(organizationId, row.user_id)
      await this.ctx.events.emit('scim.user.deactivated', { organizationId, scimId: id, userId: row.user_id, sessionsEnded: ended }, meta)
    } else if (input.active) {
      await this.lifecycle.syncRole(organizationId, row.user_id)
    }
    await this.ctx.events.emit('scim.user.updated', { organizationId, scimId: id, userId: row.user_id, active: input.active }, meta)
    return (await this.get(organizationId, id)) as Record<string, unknown>
  }

  async #row(organizationId: string, id: string): Promise<UserRow | undefined> {
    if (!isUuid(id)) return undefined
    const [row] = await query<UserRow>(this.ctx.db, `select ${COLUMNS} from sso_scim_user u where u.id = ? and u.organization_id = ?`, [id, organizationId])
    return row
  }

  async #groupsOf(ids: string[]): Promise<Map<string, { value: string; display: string }[]>> {
    const out = new Map<string, { value: string; display: string }[]>()
    if (ids.length === 0) return out
    const found = await query<{ scim_user_id: string; id: string; display_name: string }>(
      this.ctx.db,
      `select m.scim_user_id, g.id, g.display_name from sso_scim_group_member m join sso_scim_group g on g.id = m.group_id where m.scim_user_id in (${ids.map(() => '?').join(',')})`,
      ids,
    )
    for (const f of found) out.set(f.scim_user_id, [...(out.get(f.scim_user_id) ?? []), { value: f.id, display: f.display_name }])
    return out
  }

  #resource(r: UserRow, groups: { value: string; display: string }[]): Record<string, unknown> {
    const name: Record<string, string> = {}
    if (r.given_name) name.givenName = r.given_name
    if (r.family_name) name.familyName = r.family_name
    return {
      schemas: [USER_SCHEMA],
      id: r.id,
      ...(r.external_id ? { externalId: r.external_id } : {}),
      userName: r.user_name,
      ...(Object.keys(name).length > 0 ? { name } : {}),
      ...(r.display_name ? { displayName: r.display_name } : {}),
      emails: jsonOf<ScimEmail[]>(r.emails, []),
      active: r.active,
      groups: groups.map((g) => ({ value: g.value, display: g.display, $ref: `${this.baseUrl}/Groups/${g.value}` })),
      meta: {
        resourceType: 'User',
        created: toDate(r.created_at).toISOString(),
        lastModified: toDate(r.updated_at).toISOString(),
        version: `W/"${r.version}"`,
        location: `${this.baseUrl}/Users/${r.id}`,
      },
    }
  }
}
