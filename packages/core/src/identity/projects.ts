import { randomUUID } from 'node:crypto'
import { UniqueConstraintViolationException } from '@mikro-orm/core'
import { eventMeta, type IdentityContext, query, rows, toDate, transaction } from './identity-context.js'
import { conflict, notFound } from './identity-errors.js'
import type { Actor, ProjectView } from './identity-types.js'

interface ProjectRow {
  id: string
  organization_id: string
  name: string
  created_at: Date | string
}

const COLUMNS = 'id, organization_id, name, created_at'

function view(r: ProjectRow): ProjectView {
  return { id: r.id, organizationId: r.organization_id, name: r.name, createdAt: toDate(r.created_at) }
}

function nameTaken(): Error {
  return conflict('A project with this name already exists in the organization', 'name')
}

/** Creates a project; names are unique among an organization's live projects. Emits project.created. */
export async function createProject(ctx: IdentityContext, input: { organizationId: string; name: string }, actor?: Actor): Promise<ProjectView> {
  return transaction(ctx, async (em) => {
    const org = await rows(em, 'select id from core_organization where id = ?', [input.organizationId])
    if (org.length === 0) throw notFound('Organization')
    const [row] = await rows<ProjectRow>(em, `insert into core_project (id, organization_id, name) values (?, ?, ?) on conflict do nothing returning ${COLUMNS}`, [
      randomUUID(),
      input.organizationId,
      input.name,
    ])
    if (!row) throw nameTaken()
    await ctx.events.emit('project.created', { organizationId: row.organization_id, projectId: row.id, name: row.name }, eventMeta(actor, row.organization_id, em))
    return view(row)
  })
}

/** An organization's live projects; `onlyIds` restricts them (a developer's grants). */
export async function listProjects(ctx: IdentityContext, organizationId: string, onlyIds?: readonly string[]): Promise<ProjectView[]> {
  if (onlyIds && onlyIds.length === 0) return []
  const filter = onlyIds ? ' and id in (?)' : ''
  const params: unknown[] = onlyIds ? [organizationId, [...onlyIds]] : [organizationId]
  const list = await query<ProjectRow>(ctx, `select ${COLUMNS} from core_project where organization_id = ? and deleted_at is null${filter} order by name, id`, params)
  return list.map(view)
}

/** A live project by id. */
export async function getProject(ctx: IdentityContext, id: string): Promise<ProjectView | undefined> {
  const [row] = await query<ProjectRow>(ctx, `select ${COLUMNS} from core_project where id = ? and deleted_at is null`, [id])
  return row ? view(row) : undefined
}

/** Renames a project; emits project.updated. */
export async function updateProject(ctx: IdentityContext, id: string, patch: { name?: string }, actor?: Actor): Promise<ProjectView> {
  try {
    return await transaction(ctx, async (em) => {
      const [before] = await rows<ProjectRow>(em, `select ${COLUMNS} from core_project where id = ? and deleted_at is null for update`, [id])
      if (!before) throw notFound('Project')
      if (patch.name === undefined || patch.name === before.name) return view(before)
      const taken = await rows(em, 'select id from core_project where organization_id = ? and name = ? and deleted_at is null and id <> ?', [before.organization_id, patch.name, id])
      if (taken.length > 0) throw nameTaken()
      const [after] = await rows<ProjectRow>(em, `update core_project set name = ? where id = ? returning ${COLUMNS}`, [patch.name, id])
      await ctx.events.emit('project.updated', { organizationId: after.organization_id, projectId: id, before: { name: before.name }, after: { name: after.name } }, eventMeta(actor, after.organization_id, em))
      return view(after)
    })
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw nameTaken()
    throw err
  }
}

/**
 * Deletes a project (soft: usage history keeps pointing at it). Its API keys stop authenticating
 * at once on this instance (within the key cache TTL elsewhere). Emits project.deleted.
 */
export async function deleteProject(ctx: IdentityContext, id: string, actor?: Actor): Promise<void> {
  await transaction(ctx, async (em) => {
    const [row] = await rows<ProjectRow>(em, `update core_project set deleted_at = now() where id = ? and deleted_at is null returning ${COLUMNS}`, [id])
    if (!row) throw notFound('Project')
    await ctx.events.emit('project.deleted', { organizationId: row.organization_id, projectId: id }, eventMeta(actor, row.organization_id, em))
  })
  ctx.apiKeys.invalidate()
  ctx.providerKeys.invalidate(id)
}
