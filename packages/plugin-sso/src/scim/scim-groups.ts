import { randomUUID } from 'node:crypto'
import { type EventMeta, TollgateError } from '@tollgate/core'
import { type Em, isUuid, query, rows, toDate, transaction } from '../db.js'
import type { SsoContext } from '../plugin-context.js'
import { parseFilter } from './scim-filter.js'
import { type AttrMap, filterToSql } from './scim-filter-sql.js'
import type { ScimLifecycle } from './scim-lifecycle.js'
import { applyPatch, type PatchSchema } from './scim-patch.js'
import { GROUP_SCHEMA, invalidValue, parseGroup, type ScimGroupInput } from './scim-resources.js'

interface GroupRow {
  id: string
  display_name: string
  external_id: string | null
  version: number
  created_at: Date | string
  updated_at: Date | string
}

const COLUMNS = 'g.id, g.display_name, g.external_id, g.version, g.created_at, g.updated_at'

/** Filterable Group attributes. */
const GROUP_ATTRS: AttrMap = {
  id: { kind: 'string', sql: 'g.id::text', caseExact: true },
  displayname: { kind: 'string', sql: 'g.display_name' },
  externalid: { kind: 'string', sql: 'g.external_id', caseExact: true },
  'meta.created': { kind: 'date', sql: 'g.created_at' },
  'meta.lastmodified': { kind: 'date', sql: 'g.updated_at' },
  members: {
    kind: 'multi',
    exists: 'select 1 from sso_scim_group_member gm where gm.group_id = g.id and',
    primary: 'value',
    sub: { value: { kind: 'string', sql: 'gm.scim_user_id::text', caseExact: true } },
  },
}

const GROUP_PATCH: PatchSchema = { names: { displayname: 'displayName', externalid: 'externalId', members: 'members' }, multi: new Set(['members']), complex: new Set() }

function notFound(): TollgateError {
  return new TollgateError('TOLLGATE_ERR_REQUEST_NOT_FOUND', 'Group not found')
}

/**
 * SCIM Groups of one organization. Group names drive roles (the policy's group rules), so every
 * change re-syncs the memberships of the users it touches.
 */
export class ScimGroups {
  constructor(
    private readonly ctx: SsoContext,
    private readonly lifecycle: ScimLifecycle,
    private readonly baseUrl: string,
  ) {}

  /** A page of groups matching a filter; `withMembers: false` leaves members out (excludedAttributes=members). */
  async list(organizationId: string, opts: { filter?: string; startIndex: number; count: number; withMembers: boolean }): Promise<{ total: number; resources: Record<string, unknown>[] }> {
    let where = 'g.organization_id = ?'
    const params: unknown[] = [organizationId]
    if (opts.filter) {
      const compiled = filterToSql(parseFilter(opts.filter), GROUP_ATTRS)
      where += ` and (${compiled.sql})`
      params.push(...compiled.params)
    }
    const [{ n }] = await query<{ n: number | string }>(this.ctx.db, `select count(*) as n from sso_scim_group g where ${where}`, params)
    const total = Number(n)
    if (opts.count === 0 || total === 0) return { total, resources: [] }
    const page = await query<GroupRow>(this.ctx.db, `select ${COLUMNS} from sso_scim_group g where ${where} order by g.created_at, g.id limit ? offset ?`, [...params, opts.count, opts.startIndex - 1])
    const members = opts.withMembers ? await this.#membersOf(page.map((g) => g.id)) : new Map()
    return { total, resources: page.map((g) => this.#resource(g, opts.withMembers ? (members.get(g.id) ?? []) : undefined)) }
  }

  /** A group as a SCIM resource, or undefined. */
  async get(organizationId: string, id: string, withMembers = true): Promise<Record<string, unknown> | undefined> {
    const row = await this.#row(organizationId, id)
    if (!row) return undefined
    return this.#resource(row, withMembers ? ((await this.#membersOf([row.id])).get(row.id) ?? []) : undefined)
  }

  /** Creates a group with its members. */
  async create(organizationId: string, body: unknown, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    const input = parseGroup(body)
    const id = randomUUID()
    const affected = await transaction(this.ctx.db, async (em) => {
      const inserted = await rows(em, 'insert into sso_scim_group (id, organization_id, display_name, external_id) values (?, ?, ?, ?) on conflict do nothing returning id', [
        id,
        organizationId,
        input.displayName,
        input.externalId,
      ])
      if (inserted.length === 0) throw new TollgateError('TOLLGATE_ERR_SCIM_UNIQUENESS', `A group named "${input.displayName}" already exists`, { field: 'displayName' })
      return this.#setMembers(em, organizationId, id, input.members)
    })
    await this.#sync(organizationId, affected.users)
    await this.ctx.events.emit('scim.group.created', { organizationId, scimId: id, displayName: input.displayName }, meta)
    return (await this.get(organizationId, id)) as Record<string, unknown>
  }

  /** Replaces a group (PUT). */
  async replace(organizationId: string, id: string, body: unknown, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    return this.#store(organizationId, id, parseGroup(body), meta)
  }

  /** Applies PATCH operations (member adds and removals, renames). */
  async patch(organizationId: string, id: string, operations: unknown, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    const current = await this.get(organizationId, id)
    if (!current) throw notFound()
    return this.#store(organizationId, id, parseGroup(applyPatch(current, operations, GROUP_PATCH)), meta)
  }

  /** Deletes a group; its former members' roles are re-synced. */
  async delete(organizationId: string, id: string, meta: Partial<EventMeta>): Promise<void> {
    const row = await this.#row(organizationId, id)
    if (!row) throw notFound()
    const users = await query<{ user_id: string }>(this.ctx.db, 'select u.user_id from sso_scim_group_member m join sso_scim_user u on u.id = m.scim_user_id where m.group_id = ?', [id])
    await query(this.ctx.db, 'delete from sso_scim_group where id = ? returning id', [id])
    await this.#sync(organizationId, users.map((u) => u.user_id))
    await this.ctx.events.emit('scim.group.deleted', { organizationId, scimId: id, displayName: row.display_name }, meta)
  }

  async #store(organizationId: string, id: string, input: ScimGroupInput, meta: Partial<EventMeta>): Promise<Record<string, unknown>> {
    const result = await transaction(this.ctx.db, async (em) => {
      const [row] = await rows<GroupRow>(em, `select ${COLUMNS} from sso_scim_group g where g.id = ? and g.organization_id = ? for update`, [id, organizationId])
      if (!row) throw notFound()
      if (input.displayName.toLowerCase() !== row.display_name.toLowerCase()) {
        const [taken] = await rows(em, 'select id from sso_scim_group where organization_id = ? and lower(display_name) = lower(?) and id <> ?', [organizationId, input.displayName, id])
        if (taken) throw new TollgateError('TOLLGATE_ERR_SCIM_UNIQUENESS', `A group named "${input.displayName}" already exists`, { field: 'displayName' })
      }
      await rows(em, 'update sso_scim_group set display_name = ?, external_id = ?, version = version + 1, updated_at = now() where id = ? returning id', [input.displayName, input.externalId, id])
      const changed = await this.#setMembers(em, organizationId, id, input.members)
      // A rename changes which rule applies to every member.
      if (input.displayName !== row.display_name) {
        const all = await rows<{ user_id: string }>(em, 'select u.user_id from sso_scim_group_member m join sso_scim_user u on u.id = m.scim_user_id where m.group_id = ?', [id])
        changed.users.push(...all.map((a) => a.user_id))
      }
      return changed
    })
    await this.#sync(organizationId, result.users)
    await this.ctx.events.emit('scim.group.updated', { organizationId, scimId: id, displayName: input.displayName, membersAdded: result.added, membersRemoved: result.removed }, meta)
    return (await this.get(organizationId, id)) as Record<string, unknown>
  }

  /** Sets a group's members to exactly `memberIds` (SCIM user ids of the organization); returns the gateway users whose groups changed. */
  async #setMembers(em: Em, organizationId: string, groupId: string, memberIds: string[]): Promise<{ users: string[]; added: number; removed: number }> {
    for (const [i, m] of memberIds.entries()) if (!isUuid(m)) throw invalidValue(`members[${i}].value`, `"${m}" is not a User id of this organization`)
    const known = memberIds.length
      ? await rows<{ id: string; user_id: string }>(em, `select id, user_id from sso_scim_user where organization_id = ? and id in (${memberIds.map(() => '?').join(',')})`, [organizationId, ...memberIds])
      : []
    const knownIds = new Map(known.map((k) => [k.id, k.user_id]))
    const missing = memberIds.findIndex((m) => !knownIds.has(m))
    if (missing >= 0) throw invalidValue(`members[${missing}].value`, `"${memberIds[missing]}" is not a User id of this organization`)
    const before = await rows<{ scim_user_id: string; user_id: string }>(em, 'select m.scim_user_id, u.user_id from sso_scim_group_member m join sso_scim_user u on u.id = m.scim_user_id where m.group_id = ?', [groupId])
    const beforeIds = new Set(before.map((b) => b.scim_user_id))
    const wanted = new Set(memberIds)
    const removed = before.filter((b) => !wanted.has(b.scim_user_id))
    const added = memberIds.filter((m) => !beforeIds.has(m))
    if (removed.length) await rows(em, `delete from sso_scim_group_member where group_id = ? and scim_user_id in (${removed.map(() => '?').join(',')}) returning group_id`, [groupId, ...removed.map((r) => r.scim_user_id)])
    for (let i = 0; i < added.length; i += 500) {
      const chunk = added.slice(i, i + 500)
      await rows(em, `insert into sso_scim_group_member (group_id, scim_user_id) values ${chunk.map(() => '(?, ?)').join(', ')} on conflict do nothing returning group_id`, chunk.flatMap((m) => [groupId, m]))
    }
    return { users: [...removed.map((r) => r.user_id), ...added.map((a) => knownIds.get(a) as string)], added: added.length, removed: removed.length }
  }

  /** Re-syncs the roles of active SCIM users (inactive ones stay without access). */
  async #sync(organizationId: string, userIds: string[]): Promise<void> {
    const unique = [...new Set(userIds)]
    if (unique.length === 0) return
    const active = await query<{ user_id: string }>(this.ctx.db, `select user_id from sso_scim_user where organization_id = ? and active and user_id in (${unique.map(() => '?').join(',')})`, [organizationId, ...unique])
    for (const a of active) await this.lifecycle.syncRole(organizationId, a.user_id)
  }

  async #row(organizationId: string, id: string): Promise<GroupRow | undefined> {
    if (!isUuid(id)) return undefined
    const [row] = await query<GroupRow>(this.ctx.db, `select ${COLUMNS} from sso_scim_group g where g.id = ? and g.organization_id = ?`, [id, organizationId])
    return row
  }

  async #membersOf(ids: string[]): Promise<Map<string, { value: string; display: string }[]>> {
    const out = new Map<string, { value: string; display: string }[]>()
    if (ids.length === 0) return out
    const found = await query<{ group_id: string; id: string; user_name: string }>(
      this.ctx.db,
      `select m.group_id, u.id, u.user_name from sso_scim_group_member m join sso_scim_user u on u.id = m.scim_user_id where m.group_id in (${ids.map(() => '?').join(',')}) order by u.user_name`,
      ids,
    )
    for (const f of found) out.set(f.group_id, [...(out.get(f.group_id) ?? []), { value: f.id, display: f.user_name }])
    return out
  }

  #resource(g: GroupRow, members: { value: string; display: string }[] | undefined): Record<string, unknown> {
    return {
      schemas: [GROUP_SCHEMA],
      id: g.id,
      displayName: g.display_name,
      ...(g.external_id ? { externalId: g.external_id } : {}),
      ...(members ? { members: members.map((m) => ({ value: m.value, display: m.display, $ref: `${this.baseUrl}/Users/${m.value}` })) } : {}),
      meta: { resourceType: 'Group', created: toDate(g.created_at).toISOString(), lastModified: toDate(g.updated_at).toISOString(), version: `W/"${g.version}"`, location: `${this.baseUrl}/Groups/${g.id}` },
    }
  }
}
