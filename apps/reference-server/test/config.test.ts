import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, ENCRYPTION_KEY_FILE, loadConfig, MASK, maskSecrets } from '../src/index.ts'
import { TEST_ENCRYPTION_KEY, tempDir } from './helpers.ts'

/** Loads a config from a file holding `text`, with the given environment, in a temp folder. */
async function loadFrom(t: Test, text: string | undefined, env: NodeJS.ProcessEnv = {}, name = 'tollgate.yaml') {
  const dir = await tempDir(t)
  let configPath: string | undefined
  if (text !== undefined) {
    configPath = join(dir, name)
    await writeFile(configPath, text)
  }
  return loadConfig({ configPath, env: { TOLLGATE_DATA_DIR: join(dir, 'data'), ...env }, cwd: dir })
}

/** The ConfigError message a load fails with. */
async function failure(t: Test, text: string | undefined, env: NodeJS.ProcessEnv = {}, name?: string): Promise<string> {
  try {
    await loadFrom(t, text, env, name)
  } catch (err) {
    t.type(err, ConfigError)
    return (err as Error).message
  }
  t.fail('the config loaded although it is invalid')
  return ''
}

t.test('built-in defaults: port 8080 on loopback, the mock model, the embedded database in the data folder', async (t) => {
  const { config, sources } = await loadFrom(t, undefined)
  t.equal(config.port, 8080)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.logLevel, 'info')
  t.equal(config.bootstrap.enabled, true)
  t.match(config.models, [{ name: 'mock-echo', provider: 'mock' }])
  t.equal(config.database?.dataDir, join(config.dataDir, 'db'))
  t.equal(sources.file, undefined)
  t.equal(sources.encryptionKey.source, 'generated')
})

t.test('the encryption key is generated once into the data folder (mode 0600) and read back later', async (t) => {
  const dir = await tempDir(t)
  const env = { TOLLGATE_DATA_DIR: join(dir, 'data') }
  const first = await loadConfig({ env, cwd: dir })
  const file = join(dir, 'data', ENCRYPTION_KEY_FILE)
  t.equal(first.sources.encryptionKey.source, 'generated')
  t.equal(Buffer.from(first.config.security?.providerKeyEncryptionKey as string, 'base64').length, 32)
  t.equal((await stat(file)).mode & 0o777, 0o600)
  const second = await loadConfig({ env, cwd: dir })
  t.equal(second.sources.encryptionKey.source, 'file')
  t.equal(second.config.security?.providerKeyEncryptionKey, first.config.security?.providerKeyEncryptionKey)
  t.equal((await readFile(file, 'utf8')).trim(), first.config.security?.providerKeyEncryptionKey)
})

t.test('a dry run (config print) writes no key', async (t) => {
  const dir = await tempDir(t)
  const { sources } = await loadConfig({ env: { TOLLGATE_DATA_DIR: join(dir, 'data') }, cwd: dir, dryRun: true })
  t.equal(sources.encryptionKey.source, 'pending')
  await t.rejects(stat(join(dir, 'data', ENCRYPTION_KEY_FILE)), { code: 'ENOENT' })
})

t.test('DATABASE_URL without an encryption key is refused with a clear message', async (t) => {
  const message = await failure(t, undefined, { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' })
  t.match(message, /config: security\.providerKeyEncryptionKey is required when database\.url \(DATABASE_URL\) is set/)
  t.match(message, /TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY/)
})

t.test('DATABASE_URL with a key uses it and writes nothing', async (t) => {
  const { config, sources } = await loadFrom(t, undefined, { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x', TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY })
  t.equal(config.database?.url, 'postgres://postgres@127.0.0.1:5432/x')
  t.equal(config.database?.dataDir, undefined)
  t.equal(sources.encryptionKey.source, 'config')
})

t.test('a key that is not 32 bytes of base64 is refused', async (t) => {
  const message = await failure(t, undefined, { TOLLGATE_PROVIDER_KEY_ENCRYPTION_KEY: Buffer.alloc(40, 1).toString('base64') })
  t.match(message, /security\.providerKeyEncryptionKey must be 32 bytes in base64/)
})

t.test('a YAML file merges onto the defaults; arrays replace', async (t) => {
  const { config, sources } = await loadFrom(
    t,
    `port: 9000
server:
  bodyLimitBytes: 2048
providers:
  - id: local
    kind: openai
    baseUrl: http://127.0.0.1:1234/v1
models:
  - name: local-small
    provider: local
    prices: { input: "0.1", output: "0.2" }
bootstrap:
  organizationName: Acme
`,
  )
  t.ok(sources.file?.endsWith('tollgate.yaml'))
  t.equal(config.port, 9000)
  t.equal(config.server?.bodyLimitBytes, 2048)
  t.same(config.models?.map((m) => m.name), ['local-small'])
  t.equal(config.bootstrap.organizationName, 'Acme')
  t.equal(config.bootstrap.adminEmail, 'admin@example.com', 'bootstrap defaults fill the rest')
})

t.test('a JSON file is read by its extension', async (t) => {
  const { config } = await loadFrom(t, JSON.stringify({ port: 8181, logLevel: 'warn' }), {}, 'tollgate.json')
  t.equal(config.port, 8181)
  t.equal(config.logLevel, 'warn')
})

t.test('TOLLGATE_CONFIG names the file when --config is not given', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'from-env.yaml'), 'port: 7070\n')
  const { config } = await loadConfig({ env: { TOLLGATE_CONFIG: 'from-env.yaml', TOLLGATE_DATA_DIR: join(dir, 'data') }, cwd: dir })
  t.equal(config.port, 7070)
})

t.test('validation errors name the key path', async (t) => {
  t.test('an unknown key', async (t) => {
    const message = await failure(t, 'servr:\n  bodyLimitBytes: 1\n')
    t.match(message, /^config: servr is not a known key \(known keys: database, server, providers/)
  })
  t.test('an unknown nested key', async (t) => {
    const message = await failure(t, 'server:\n  bodyLimit: 1\n')
    t.match(message, /config: server\.bodyLimit is not a known key \(known keys: bodyLimitBytes/)
  })
  t.test('a value of the wrong type', async (t) => {
    t.match(await failure(t, 'port: eighty\n'), /config: port must be integer/)
    t.match(await failure(t, 'server:\n  trustProxy: 3\n'), /config: server\.trustProxy must be boolean or string or array/)
  })
  t.test('an unknown provider kind', async (t) => {
    const message = await failure(t, 'providers:\n  - id: x\n    kind: azure\n')
    t.match(message, 'config: providers[0].kind must be one of "openai", "anthropic", "mock"')
  })
  t.test('a missing required key', async (t) => {
    t.match(await failure(t, 'providers:\n  - kind: openai\n'), 'config: providers[0].id is required')
  })
  t.test('a model naming a provider that is not configured', async (t) => {
    const message = await failure(t, 'models:\n  - name: m\n    provider: nowhere\n')
    t.match(message, 'config: models[0].provider "nowhere" is not a configured provider (configured: mock)')
  })
  t.test('a price that is not an exact decimal', async (t) => {
    t.match(await failure(t, 'models:\n  - name: m\n    provider: mock\n    prices: { input: 0.1 }\n'), 'config: models[0].prices.input must be string')
  })
  t.test('every problem is listed, one per line', async (t) => {
    const message = await failure(t, 'port: -1\nlogLevel: loud\n')
    t.match(message, /config: port must be >= 0/)
    t.match(message, /config: logLevel must be one of "fatal", "error"/)
    t.equal(message.split('\n').length, 2)
  })
  t.test('a file that does not parse or does not exist', async (t) => {
    t.match(await failure(t, 'port: [1,\n'), /config: the config file .*tollgate\.yaml does not parse/)
    t.match(await failure(t, '[1, 2]\n'), /must hold a mapping of keys at the top level/)
    const dir = await tempDir(t)
    await t.rejects(loadConfig({ configPath: 'missing.yaml', env: {}, cwd: dir }), { message: /config: cannot read the config file .*missing\.yaml: no such file/ })
  })
})

t.test('environment overrides', async (t) => {
  t.test('PORT, HOST, LOG_LEVEL and TOLLGATE_DATA_DIR', async (t) => {
    const dir = await tempDir(t)
    const { config, sources } = await loadConfig({ env: { PORT: '9090', HOST: '0.0.0.0', LOG_LEVEL: 'debug', TOLLGATE_DATA_DIR: 'state' }, cwd: dir })
    t.equal(config.port, 9090)
    t.equal(config.host, '0.0.0.0')
    t.equal(config.logLevel, 'debug')
    t.equal(config.dataDir, join(dir, 'state'), 'relative to the working folder')
    t.same(
      sources.env.map((e) => e.name),
      ['PORT', 'HOST', 'TOLLGATE_DATA_DIR', 'LOG_LEVEL'],
    )
  })
  t.test('the environment wins over the file', async (t) => {
    const { config } = await loadFrom(t, 'port: 9000\n', { PORT: '9001' })
    t.equal(config.port, 9001)
  })
  t.test('an invalid value names the variable it came from', async (t) => {
    t.match(await failure(t, undefined, { PORT: 'http' }), 'config: port must be integer (set by the environment variable PORT)')
    t.match(await failure(t, undefined, { LOG_LEVEL: 'loud' }), /config: logLevel must be one of .* \(set by the environment variable LOG_LEVEL\)/)
  })
  t.test('OPENAI_API_KEY and ANTHROPIC_API_KEY enable those providers', async (t) => {
    const { config } = await loadFrom(t, undefined, { OPENAI_API_KEY: 'sk-test-1', ANTHROPIC_API_KEY: 'sk-ant-test-2', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' })
    t.match(config.providers, [
      { id: 'mock', kind: 'mock' },
      { id: 'openai', kind: 'openai', apiKey: 'sk-test-1', baseUrl: 'http://127.0.0.1:9/v1' },
      { id: 'anthropic', kind: 'anthropic', apiKey: 'sk-ant-test-2' },
    ])
  })
  t.test('a vendor key fills a provider of that id the file already configures', async (t) => {
    const { config } = await loadFrom(t, 'providers:\n  - id: openai\n    kind: openai\n    baseUrl: https://eu.example.com/v1\n', { OPENAI_API_KEY: 'sk-test-3' })
    t.same(config.providers, [{ id: 'openai', kind: 'openai', baseUrl: 'https://eu.example.com/v1', apiKey: 'sk-test-3' }])
  })
  t.test('TOLLGATE__a__b sets any key, converted to the type the schema expects', async (t) => {
    const { config } = await loadFrom(t, undefined, {
      TOLLGATE__server__bodyLimitBytes: '1048576',
      TOLLGATE__server__trustProxy: 'true',
      TOLLGATE__providers__0__headers__x_team: '42',
      TOLLGATE__metrics__defaultMetrics: 'false',
      TOLLGATE__bootstrap__enabled: 'false',
      TOLLGATE__plugins__audit: 'true',
    })
    t.equal(config.server?.bodyLimitBytes, 1048576)
    t.equal(config.server?.trustProxy, true)
    t.same(config.providers?.[0]?.headers, { x_team: '42' }, 'a string stays a string')
    t.equal(config.metrics?.defaultMetrics, false)
    t.equal(config.bootstrap.enabled, false)
    t.equal(config.plugins.audit, true)
  })
  t.test('TOLLGATE__ on an unknown key fails naming the variable', async (t) => {
    t.match(await failure(t, undefined, { TOLLGATE__servr__x: '1' }), 'config: servr is not a known key')
    t.match(await failure(t, undefined, { TOLLGATE__servr__x: '1' }), '(set by the environment variable TOLLGATE__servr__x)')
    t.match(await failure(t, undefined, { TOLLGATE____x: '1' }), /empty path segment/)
  })
  t.test('empty variables are ignored', async (t) => {
    const { config } = await loadFrom(t, undefined, { PORT: '', DATABASE_URL: '' })
    t.equal(config.port, 8080)
    t.equal(config.database?.url, undefined)
  })
})

t.test('bundled plugin switches: true, false or a config object', async (t) => {
  const { config } = await loadFrom(t, 'plugins:\n  audit: true\n  guardrails: false\n  dashboard: {}\n')
  t.same(config.plugins, { audit: true, guardrails: false, dashboard: {} })
  t.match(await failure(t, 'plugins:\n  billing: yes please\n'), 'config: plugins.billing must be boolean or object')
  t.match(await failure(t, 'plugins:\n  unknown-thing: true\n'), 'config: plugins.unknown-thing is not a known key')
})

t.test('maskSecrets hides keys, secrets, secret headers and URL passwords, and keeps the rest', async (t) => {
  const masked = maskSecrets({
    database: { url: 'postgres://app:hunter2@db.internal:5432/tollgate' },
    providers: [{ id: 'openai', kind: 'openai', apiKey: 'sk-live', headers: { Authorization: 'Bearer x', 'OpenAI-Organization': 'org-1' } }],
    security: { providerKeyEncryptionKey: TEST_ENCRYPTION_KEY, apiKeyCacheTtlMs: 5000 },
    plugins: { sso: { clientSecret: 'abc', issuer: 'https://idp.example.com' } },
  }) as any
  t.equal(masked.database.url, `postgres://app:${MASK}@db.internal:5432/tollgate`)
  t.equal(masked.providers[0].apiKey, MASK)
  t.equal(masked.providers[0].headers.Authorization, MASK)
  t.equal(masked.providers[0].headers['OpenAI-Organization'], 'org-1')
  t.equal(masked.security.providerKeyEncryptionKey, MASK)
  t.equal(masked.security.apiKeyCacheTtlMs, 5000)
  t.equal(masked.plugins.sso.clientSecret, MASK)
  t.equal(masked.plugins.sso.issuer, 'https://idp.example.com')
})

t.test('tollgate.example.yaml is a valid config', async (t) => {
  const dir = await tempDir(t)
  const example = new URL('../tollgate.example.yaml', import.meta.url).pathname
  const { config } = await loadConfig({ configPath: example, env: { TOLLGATE_DATA_DIR: join(dir, 'data') }, cwd: dir, dryRun: true })
  t.equal(config.port, 8080)
  t.match(config.models, [{ name: 'mock-echo' }])
})
