import { randomUUID } from 'node:crypto'
import { type IdentityContext, query, rows, toDate, transaction } from './identity-context.js'
import { conflict } from './identity-errors.js'
import type { UserView } from './identity-types.js'
import { insertOrganization } from './organizations.js'

/** A new user, with the personal organization and project created for them. */
export interface CreatedUser {
  id: string
  email: string
  personalOrganizationId: string
  defaultProjectId: string
}

interface UserRow {
  id: string
  email: string
  name: string | null
  platform_admin: boolean
  created_at: Date | string
}

function view(r: UserRow): UserView {
  return { id: r.id, email: r.email, name: r.name, platformAdmin: r.platform_admin, createdAt: toDate(r.created_at) }
}

/** Number of users (0 means the gateway still needs its first administrator). */
export async function countUsers(ctx: IdentityContext): Promise<number> {
  const [row] = await query<{ n: number | string }>(ctx, 'select count(*) as n from core_user')
  return Number(row.n)
}

/** Creates a user and their personal organization (they own it). Emails are unique, case-insensitively. */
export async function createUser(ctx: IdentityContext, input: { email: string; name?: string; platformAdmin?: boolean }): Promise<CreatedUser> {
  const email = input.email.trim()
  return transaction(ctx, async (em) => {
    const id = randomUUID()
    const inserted = await rows(em, 'insert into core_user (id, email, name, platform_admin) values (?, ?, ?, ?) on conflict do nothing returning id', [
      id,
      email,
      input.name ?? null,
      input.platformAdmin ?? false,
    ])
    if (inserted.length === 0) throw conflict('A user with this email already exists', 'email')
    const personal = await insertOrganization(ctx, em, { name: `${input.name ?? email} (personal)`, ownerUserId: id, personal: true, slugFrom: email.split('@')[0] }, undefined)
    return { id, email, personalOrganizationId: personal.id, defaultProjectId: personal.defaultProjectId }
  })
}

/** A user by email (case-insensitive). */
export async function findUserByEmail(ctx: IdentityContext, email: string): Promise<UserView | undefined> {
  const [row] = await query<UserRow>(ctx, 'select id, email, name, platform_admin, created_at from core_user where lower(email) = lower(?)', [email.trim()])
  return row ? view(row) : undefined
}

/** A user by id. */
export async function getUser(ctx: IdentityContext, id: string): Promise<UserView | undefined> {
  const [row] = await query<UserRow>(ctx, 'select id, email, name, platform_admin, created_at from core_user where id = ?', [id])
  return row ? view(row) : undefined
}
