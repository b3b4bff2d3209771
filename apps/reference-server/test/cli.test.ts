import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { createTestDatabase } from '@tollgate/core/testing'
import { EXIT, loadConfig, openGateway, runCli } from '../src/index.ts'
import { captureIo, databaseEnv, databaseOverrides, tempDir } from './helpers.ts'

const ROOT = new URL('../../../', import.meta.url).pathname
const NODE = join(ROOT, 'node_modules/.bin/node')

/** Runs the real `tollgate` entry point from its TypeScript source, as `npm start` would run the built one. */
function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['--import', './test-support/tsx-register.mjs', '--conditions=tollgate-src', 'apps/reference-server/src/cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

t.test('the bin prints help and rejects a bad config with the key path and exit code 2', async (t) => {
  const help = await spawnCli(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: tollgate <command> \[options\]/)
  t.match(help.stdout, /key create/)

  const dir = await tempDir(t)
  const file = join(dir, 'bad.yaml')
  await writeFile(file, 'providers:\n  - id: x\n    kind: azure\n')
  const bad = await spawnCli(['config', 'print', '--config', file], { TOLLGATE_DATA_DIR: join(dir, 'data') })
  t.equal(bad.code, 2)
  t.match(bad.stderr, 'config: providers[0].kind must be one of "openai", "anthropic", "mock"')
  t.equal(bad.stdout, '')
})

t.test('usage errors exit 2 with a hint', async (t) => {
  const dir = await tempDir(t)
  const run = async (...args: string[]) => {
    const io = captureIo({}, dir)
    return { code: await runCli(args, io), err: io.err.join('\n'), out: io.out.join('\n') }
  }
  t.match(await run('launch'), { code: EXIT.usage, err: /unknown command "launch"/ })
  t.match(await run('key'), { code: EXIT.usage, err: /did you mean "key create"/ })
  t.match(await run('start', '--email', 'x'), { code: EXIT.usage, err: /"start" does not take --email/ })
  t.match(await run('user', 'create'), { code: EXIT.usage, err: /"user create" needs --email/ })
  t.match(await run('config', 'print', '--format', 'toml'), { code: EXIT.usage, err: /--format must be yaml or json/ })
  t.match(await run('--bogus'), { code: EXIT.usage, err: /Unknown option '--bogus'/ })
  t.match(await run('key', 'create', '--help'), { code: EXIT.ok, out: /Usage: tollgate key create/ })
  t.match(await run('--version'), { code: EXIT.ok, out: /^\d+\.\d+\.\d+/ })
  t.match(await run(), { code: EXIT.usage, out: /Usage: tollgate/ })
})

t.test('config print shows the resolved config with secrets masked and writes nothing', async (t) => {
  const dir = await tempDir(t)
  const io = captureIo({ TOLLGATE_DATA_DIR: join(dir, 'data'), OPENAI_API_KEY: 'sk-very-secret', PORT: '9999' }, dir)
  t.equal(await runCli(['config', 'print'], io), 0)
  const out = io.out.join('\n')
  t.notMatch(out, 'sk-very-secret')
  t.match(out, /apiKey: "?\*{8}"?/)
  t.match(out, /^port: 9999$/m)
  t.match(out, '# environment: PORT → port')
  t.match(out, '# provider-key encryption key: not set; the first start generates it')
  const json = captureIo(io.env, dir)
  t.equal(await runCli(['config', 'print', '--format', 'json'], json), 0)
  t.equal(JSON.parse(json.out.join('\n')).port, 9999)
})

t.test('migrate, then user, org, project and key create against one database', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dataDir = await tempDir(t)
  const env = databaseEnv(db, dataDir)
  const run = async (...args: string[]) => {
    const io = captureIo(env, dataDir)
    const code = await runCli(args, io)
    return { code, out: io.out.join('\n'), err: io.err.join('\n') }
  }

  const migrated = await run('migrate')
  t.equal(migrated.code, 0, migrated.err)
  t.match(migrated.out, /Applied \d+ migration\(s\):\n {2}core:0001_init/)
  t.match(await run('migrate'), { code: 0, out: 'The database is up to date: no pending migrations.' })

  const user = await run('user', 'create', '--email', 'ops@example.com', '--name', 'Ops', '--json')
  t.equal(user.code, 0, user.err)
  t.match(JSON.parse(user.out), { email: 'ops@example.com', id: String })

  const org = await run('org', 'create', '--name', 'Acme', '--owner-email', 'ops@example.com', '--json')
  t.equal(org.code, 0, org.err)
  const orgId = JSON.parse(org.out).id as string

  const missingOwner = await run('org', 'create', '--name', 'Nobody Inc', '--owner-email', 'nobody@example.com')
  t.equal(missingOwner.code, EXIT.usage)
  t.match(missingOwner.err, 'no user with the email nobody@example.com')

  const project = await run('project', 'create', '--org', orgId, '--name', 'Web')
  t.equal(project.code, 0, project.err)
  const projectId = /\(id ([^)]+)\)/.exec(project.out)?.[1] as string
  t.ok(projectId, project.out)

  const key = await run('key', 'create', '--org', orgId, '--project', projectId, '--owner-email', 'ops@example.com', '--name', 'ci')
  t.equal(key.code, 0, key.err)
  t.match(key.out, 'shown only this once')
  const secret = key.out.trim().split('\n').at(-1) as string
  t.match(secret, /^tg-/)

  t.match(await run('key', 'create', '--org', orgId, '--project', projectId, '--owner-email', 'ops@example.com', '--name', 'old', '--expires-at', 'soon'), {
    code: EXIT.usage,
    err: /--expires-at must be an ISO date/,
  })

  // The key works against the gateway the same database serves.
  const loaded = await loadConfig({ env: {}, cwd: dataDir, overrides: { ...databaseOverrides(db, dataDir), bootstrap: { enabled: false } } })
  const opened = await openGateway({ config: loaded })
  t.teardown(() => opened.close())
  const res = await opened.gateway.app.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    payload: { model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }] },
  })
  t.equal(res.statusCode, 200, res.body)

  if (!db.options.url) {
    // The embedded database is open in this process now: a second opener is refused.
    const locked = await run('user', 'create', '--email', 'late@example.com')
    t.equal(locked.code, EXIT.usage)
    t.match(locked.err, /the embedded database at .* is (in use by process \d+|already open in this process)/)
  }
})
