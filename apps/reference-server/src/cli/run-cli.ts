import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError } from '../config/index.js'
import { createCommand } from './commands/create.js'
import { configPrintCommand } from './commands/config-print.js'
import { migrateCommand } from './commands/migrate.js'
import { startCommand } from './commands/start.js'
import { COMMAND_HELP, MAIN_HELP } from './help.js'
import { type CliIo, processIo } from './io.js'
import { UsageError } from './usage-error.js'

/** Every option any command accepts; each command allows a subset. */
const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  format: { type: 'string' },
  email: { type: 'string' },
  name: { type: 'string' },
  'owner-email': { type: 'string' },
  org: { type: 'string' },
  project: { type: 'string' },
  role: { type: 'string' },
  'expires-at': { type: 'string' },
  'app-name': { type: 'string' },
  'platform-admin': { type: 'boolean' },
  json: { type: 'boolean' },
} as const

/** The parsed options of a command line. */
export type CliOptions = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean }

const COMMON = ['config', 'help', 'version']

/** Options each command accepts beyond the common ones. */
const ALLOWED: Record<string, string[]> = {
  start: [],
  migrate: [],
  'config print': ['format'],
  'user create': ['email', 'name', 'platform-admin', 'json'],
  'org create': ['name', 'owner-email', 'json'],
  'project create': ['org', 'name', 'json'],
  'key create': ['org', 'project', 'owner-email', 'name', 'role', 'expires-at', 'app-name', 'json'],
}

/** Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/** The package version, read from package.json (same relative place in src/ and dist/). */
export function cliVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

function parse(argv: string[]): { command: string; options: CliOptions } {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const words = parsed.positionals
  const options = parsed.values as CliOptions
  if (words.length === 0) return { command: '', options }
  const command = words.length >= 2 && `${words[0]} ${words[1]}` in ALLOWED ? `${words[0]} ${words[1]}` : words[0]
  const extra = words.slice(command.split(' ').length)
  if (!(command in ALLOWED)) {
    const group = Object.keys(ALLOWED).filter((c) => c.startsWith(`${words[0]} `))
    throw new UsageError(group.length > 0 ? `unknown command "${words.join(' ')}"; did you mean ${group.map((g) => `"${g}"`).join(' or ')}?` : `unknown command "${words[0]}"`)
  }
  if (extra.length > 0 && !options.help) throw new UsageError(`unexpected argument "${extra[0]}" for "${command}"`)
  for (const name of Object.keys(options)) {
    if (!COMMON.includes(name) && !ALLOWED[command].includes(name)) throw new UsageError(`"${command}" does not take --${name}`)
  }
  return { command, options }
}

/**
 * Runs the `tollgate` command line and resolves with the exit code. Every failure is printed on
 * stderr: a usage or configuration error with exit code 2, anything else with 1.
 */
export async function runCli(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    const { command, options } = parse(argv)
    if (options.version) {
      io.stdout(cliVersion())
      return EXIT.ok
    }
    if (options.help || command === '') {
      io.stdout(command ? COMMAND_HELP[command] : MAIN_HELP)
      return command || options.help ? EXIT.ok : EXIT.usage
    }
    switch (command) {
      case 'start':
        return await startCommand(options, io)
      case 'migrate':
        return await migrateCommand(options, io)
      case 'config print':
        return await configPrintCommand(options, io)
      default:
        return await createCommand(command, options, io)
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`tollgate: ${err.message}\nRun "tollgate --help" for usage.`)
      return EXIT.usage
    }
    if (err instanceof ConfigError) {
      io.stderr(err.message)
      return EXIT.usage
    }
    const code = (err as { code?: unknown })?.code
    if (typeof code === 'string' && /^TOLLGATE_ERR_(CONFIG|PLUGIN)_/.test(code)) {
      io.stderr(`config: ${(err as Error).message}`)
      return EXIT.usage
    }
    io.stderr(`tollgate: ${(err as Error)?.message ?? String(err)}`)
    if (io.env.LOG_LEVEL === 'debug' || io.env.LOG_LEVEL === 'trace') io.stderr(String((err as Error)?.stack ?? ''))
    return EXIT.failure
  }
}
