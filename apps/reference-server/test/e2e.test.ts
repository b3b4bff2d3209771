import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import OpenAI from 'openai'
import { createTestDatabase } from '@tollgate/core/testing'
import { startServer } from '../src/index.ts'
import { databaseEnv, databaseOverrides, tempDir } from './helpers.ts'

const ROOT = new URL('../../../', import.meta.url).pathname

t.test('the openai SDK calls the mock model through a started server with the bootstrap key', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dataDir = await tempDir(t)
  const server = await startServer({ load: { env: {}, cwd: dataDir, overrides: databaseOverrides(db, dataDir) }, print: () => undefined })
  t.teardown(() => server.close())
  t.ok(server.bootstrap.created)
  if (!server.bootstrap.created) return
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)

  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: server.bootstrap.data.apiKey.secret, maxRetries: 0 })
  const completion = await client.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'Hello, Tollgate!' }] })
  t.equal(completion.object, 'chat.completion')
  t.equal(completion.model, 'mock-echo')
  t.type(completion.choices[0].message.content, 'string')
  t.ok((completion.choices[0].message.content ?? '').length > 0)
  t.ok((completion.usage?.prompt_tokens ?? 0) > 0, 'usage is reported')

  const stream = await client.chat.completions.create({ model: 'mock-echo', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream please' }] })
  let text = ''
  let usage: OpenAI.CompletionUsage | undefined
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? ''
    if (chunk.usage) usage = chunk.usage
  }
  t.ok(text.length > 0, 'streamed text arrives')
  t.ok(usage, 'the final usage chunk arrives')

  const dashboard = await fetch(`${server.url}/dashboard/`)
  t.equal(dashboard.status, 200, 'the dashboard plugin is on by default and needs no key')
  t.match(dashboard.headers.get('content-type'), /^text\/html/)
  t.match(await dashboard.text(), '<title>Tollgate dashboard</title>')

  const wrongKey = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'tg-not-a-key', maxRetries: 0 })
  const refused = await wrongKey.chat.completions.create({ model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }] }).catch((err: unknown) => err)
  t.type(refused, OpenAI.APIError)
  t.equal((refused as InstanceType<typeof OpenAI.APIError>).status, 401)
})

t.test('`tollgate start` serves, and SIGTERM closes it gracefully with exit code 0', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dataDir = await tempDir(t)
  const child = spawn(
    join(ROOT, 'node_modules/.bin/node'),
    ['--import', './test-support/tsx-register.mjs', '--conditions=tollgate-src', 'apps/reference-server/src/cli.ts', 'start'],
    { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...databaseEnv(db, dataDir), PORT: '0', LOG_LEVEL: 'warn' } },
  )
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const secret = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d
      const m = /Authorization: Bearer (tg-[A-Za-z0-9_-]+)/.exec(stdout)
      if (m && /shown only this once/.test(stdout) && /listening on/.test(stdout)) resolve(m[1])
    })
    void exited.then((code) => reject(new Error(`the server exited early (${code}): ${stderr}`)))
  })
  const url = /listening on (http:\/\/[^ ]+) /.exec(stdout)?.[1] as string
  t.match(stdout, `curl ${url}/v1/chat/completions`)

  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-echo', messages: [{ role: 'user', content: 'hi' }] }),
  })
  t.equal(res.status, 200)
  t.equal(((await res.json()) as { model: string }).model, 'mock-echo')

  child.kill('SIGTERM')
  t.equal(await exited, 0, stderr)
})
