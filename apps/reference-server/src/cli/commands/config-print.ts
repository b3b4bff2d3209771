import { stringify } from 'yaml'
import { loadConfig, maskSecrets } from '../../config/index.js'
import type { CliIo } from '../io.js'
import type { CliOptions } from '../run-cli.js'
import { UsageError } from '../usage-error.js'

/** `tollgate config print`: the resolved configuration with secrets masked; writes nothing. */
export async function configPrintCommand(options: CliOptions, io: CliIo): Promise<number> {
  const format = options.format ?? 'yaml'
  if (format !== 'yaml' && format !== 'json') throw new UsageError(`--format must be yaml or json, not "${format}"`)
  const { config, sources } = await loadConfig({ configPath: options.config, env: io.env, cwd: io.cwd, dryRun: true })
  const masked = maskSecrets(config)
  if (format === 'json') {
    io.stdout(JSON.stringify(masked, null, 2))
    return 0
  }
  const key = sources.encryptionKey
  const keyLine = {
    config: 'set in the config or the environment',
    file: `read from ${key.file}`,
    generated: `generated into ${key.file}`,
    ephemeral: 'generated in memory for the in-memory database',
    pending: `not set; the first start generates it into ${key.file}`,
  }[key.source]
  const header = [
    `# config file: ${sources.file ?? '(none; built-in defaults)'}`,
    `# environment: ${sources.env.length > 0 ? sources.env.map((e) => `${e.name} → ${e.path}`).join(', ') : '(no overrides)'}`,
    `# provider-key encryption key: ${keyLine}`,
  ]
  io.stdout(`${header.join('\n')}\n${stringify(masked).trimEnd()}`)
  return 0
}
