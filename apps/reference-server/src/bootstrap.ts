import type { Gateway } from '@tollgate/core'
import type { Logger } from 'pino'
import type { BootstrapConfig } from './config/index.js'

/** The identity operations the bootstrap needs (a subset of core's IdentityService). */
export type BootstrapIdentity = Pick<Gateway['identity'], 'countUsers' | 'createUser' | 'createOrganization' | 'createProject' | 'createApiKey' | 'findUserByEmail'>

/** What the first start created. */
export interface BootstrapCreated {
  admin: { id: string; email: string }
  organization: { id: string; name: string; slug: string }
  project: { id: string; name: string }
  /** The API key; `secret` is shown once and never stored in clear. */
  apiKey: { id: string; prefix: string; secret: string }
}

/** The outcome of a bootstrap attempt. */
export type BootstrapResult = { created: true; data: BootstrapCreated } | { created: false; reason: 'disabled' | 'not-empty' }

/**
 * On a database without any user, creates the demo set-up: an admin user (platform
 * administrator), an organization it owns, a project in it and an API key for that project.
 * Does nothing when any user exists, so it runs once per database. When two instances start
 * on one empty database together, the second one's user insert fails on the unique email; that
 * is reported as 'not-empty' rather than as an error.
 */
export async function bootstrapIfEmpty(identity: BootstrapIdentity, config: BootstrapConfig, log?: Logger): Promise<BootstrapResult> {
  if (!config.enabled) return { created: false, reason: 'disabled' }
  if ((await identity.countUsers()) > 0) return { created: false, reason: 'not-empty' }
  let admin: { id: string; email: string }
  try {
    admin = await identity.createUser({ email: config.adminEmail, name: config.adminName, platformAdmin: true })
  } catch (err) {
    if (await identity.findUserByEmail(config.adminEmail)) {
      log?.info('another instance bootstrapped the database first')
      return { created: false, reason: 'not-empty' }
    }
    throw err
  }
  const organization = await identity.createOrganization({ name: config.organizationName, ownerUserId: admin.id })
  const project = await identity.createProject({ organizationId: organization.id, name: config.projectName })
  const apiKey = await identity.createApiKey({
    organizationId: organization.id,
    projectId: project.id,
    ownerUserId: admin.id,
    name: config.apiKeyName,
  })
  log?.info({ organizationId: organization.id, projectId: project.id, apiKeyPrefix: apiKey.prefix, admin: admin.email }, 'bootstrapped an empty database')
  return {
    created: true,
    data: {
      admin: { id: admin.id, email: admin.email },
      organization: { id: organization.id, name: organization.name, slug: organization.slug },
      project: { id: project.id, name: project.name },
      apiKey: { id: apiKey.id, prefix: apiKey.prefix, secret: apiKey.secret },
    },
  }
}

/** Quotes a string for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/**
 * The text printed after the first start: what was created, the API key (once), and how to call
 * the gateway with curl and with the openai SDK.
 */
export function bootstrapInstructions(created: BootstrapCreated, options: { baseUrl: string; model: string }): string {
  const { baseUrl, model } = options
  const key = created.apiKey.secret
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello, Tollgate!' }] })
  return [
    '',
    'First start: the database was empty, so Tollgate created',
    `  admin user     ${created.admin.email} (platform administrator)`,
    `  organization   ${created.organization.name} (${created.organization.id})`,
    `  project        ${created.project.name} (${created.project.id})`,
    `  API key        ${key}`,
    '',
    'The API key is shown only this once: store it now. Later starts do not create these again.',
    '',
    'Call the gateway with curl:',
    '',
    `  curl ${baseUrl}/v1/chat/completions \\`,
    `    -H ${shellQuote(`Authorization: Bearer ${key}`)} \\`,
    `    -H 'Content-Type: application/json' \\`,
    `    -d ${shellQuote(body)}`,
    '',
    'or with the openai SDK (npm install openai):',
    '',
    `  import OpenAI from 'openai'`,
    `  const client = new OpenAI({ baseURL: '${baseUrl}/v1', apiKey: '${key}' })`,
    `  const completion = await client.chat.completions.create({`,
    `    model: '${model}',`,
    `    messages: [{ role: 'user', content: 'Hello, Tollgate!' }],`,
    '  })',
    '  console.log(completion.choices[0].message.content)',
    '',
  ].join('\n')
}
