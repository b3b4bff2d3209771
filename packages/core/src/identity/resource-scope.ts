import { type IdentityContext, isUuid, query } from './identity-context.js'
import type { ResourceScope, ScopedResource } from './identity-types.js'

const LOOKUPS: Record<ScopedResource, string> = {
  project: 'select organization_id, id as project_id from core_project where id = ? and deleted_at is null',
  api_key: 'select organization_id, project_id from core_api_key where id = ?',
  provider_key: 'select organization_id, project_id from core_provider_key where id = ?',
  invitation: 'select organization_id, null as project_id from core_invitation where id = ?',
  member: 'select organization_id, null as project_id from core_membership where id = ?',
}

/** The organization (and project) a resource belongs to, or undefined when there is no such resource. */
export async function resourceScope(ctx: IdentityContext, kind: ScopedResource, id: string): Promise<ResourceScope | undefined> {
  if (!isUuid(id)) return undefined
  const [row] = await query<{ organization_id: string; project_id: string | null }>(ctx, LOOKUPS[kind], [id])
  if (!row) return undefined
  return row.project_id ? { organizationId: row.organization_id, projectId: row.project_id } : { organizationId: row.organization_id }
}
