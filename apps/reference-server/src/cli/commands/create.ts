import { openGateway } from '../../server.js'
import type { CliIo } from '../io.js'
import type { CliOptions } from '../run-cli.js'
import { UsageError } from '../usage-error.js'
import { quietLevel } from './quiet-level.js'

function required(options: CliOptions, name: keyof CliOptions, command: string): string {
  const value = options[name]
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`"${command}" needs --${name}`)
  return value.trim()
}

/**
 * `user create`, `org create`, `project create` and `key create`: one identity operation on the
 * configured database. Prints a short summary, or the created record as JSON with --json.
 * `key create` prints the secret, which is never shown again.
 */
export async function createCommand(command: string, options: CliOptions, io: CliIo): Promise<number> {
  // Check the command line before opening the database.
  const args = {
    'user create': () => ({ email: required(options, 'email', command) }),
    'org create': () => ({ name: required(options, 'name', command), ownerEmail: required(options, 'owner-email', command) }),
    'project create': () => ({ org: required(options, 'org', command), name: required(options, 'name', command) }),
    'key create': () => ({
      org: required(options, 'org', command),
      project: required(options, 'project', command),
      ownerEmail: required(options, 'owner-email', command),
      name: required(options, 'name', command),
    }),
  }[command]
  if (!args) throw new UsageError(`unknown command "${command}"`)
  const a = args() as Record<string, string>
  let expiresAt: Date | undefined
  if (options['expires-at'] !== undefined) {
    expiresAt = new Date(options['expires-at'])
    if (Number.isNaN(expiresAt.getTime())) throw new UsageError(`--expires-at must be an ISO date such as 2030-01-31, not "${options['expires-at']}"`)
    if (expiresAt.getTime() <= Date.now()) throw new UsageError('--expires-at must be in the future')
  }

  const opened = await openGateway({ load: { configPath: options.config, env: io.env, cwd: io.cwd, overrides: { logLevel: quietLevel(io.env) } } })
  try {
    const identity = opened.gateway.identity
    const ownerId = async () => {
      const user = await identity.findUserByEmail(a.ownerEmail)
      if (!user) throw new UsageError(`no user with the email ${a.ownerEmail} (create one with: tollgate user create --email ${a.ownerEmail})`)
      return user.id
    }
    const out = (record: object, text: string) => io.stdout(options.json ? JSON.stringify(record, null, 2) : text)
    switch (command) {
      case 'user create': {
        const user = await identity.createUser({ email: a.email, name: options.name, platformAdmin: options['platform-admin'] ?? false })
        out(user, `Created user ${user.email} (id ${user.id}, personal organization ${user.personalOrganizationId}).`)
        break
      }
      case 'org create': {
        const org = await identity.createOrganization({ name: a.name, ownerUserId: await ownerId() })
        out(org, `Created organization "${org.name}" (id ${org.id}, slug ${org.slug}).`)
        break
      }
      case 'project create': {
        const project = await identity.createProject({ organizationId: a.org, name: a.name })
        out(project, `Created project "${project.name}" (id ${project.id}) in organization ${project.organizationId}.`)
        break
      }
      case 'key create': {
        const key = await identity.createApiKey({
          organizationId: a.org,
          projectId: a.project,
          ownerUserId: await ownerId(),
          name: a.name,
          ...(options.role ? { role: options.role as never } : {}),
          ...(expiresAt ? { expiresAt } : {}),
          ...(options['app-name'] ? { appName: options['app-name'] } : {}),
        })
        out(
          key,
          `Created API key "${a.name}" (id ${key.id}, prefix ${key.prefix}).\n` +
            'Secret (shown only this once; store it now):\n' +
            key.secret,
        )
        break
      }
    }
    return 0
  } finally {
    await opened.close()
  }
}
