import { ROLE_RANK, type Role } from '@tollgate/core'
import type { SsoPolicy } from './types.js'

/**
 * The role a user's groups give them: the highest role among the rules whose group they are in,
 * else the policy's default role. Owner comes only from a rule naming it explicitly — the default
 * role cannot be owner (the schema and the table refuse it) — so no group can become owner by accident.
 */
export function roleForGroups(policy: Pick<SsoPolicy, 'groupRoles' | 'defaultRole'>, groups: Iterable<string>): Role | undefined {
  const mine = new Set(groups)
  let best: Role | undefined
  for (const rule of policy.groupRoles) {
    if (!mine.has(rule.group)) continue
    if (!best || ROLE_RANK[rule.role] > ROLE_RANK[best]) best = rule.role
  }
  return best ?? policy.defaultRole ?? undefined
}
