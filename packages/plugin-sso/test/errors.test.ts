import { readFileSync } from 'node:fs'
import t from 'tap'
import { SSO_ERRORS } from '../src/index.js'

t.test('every error code is documented in the README, with its status', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  for (const [code, spec] of Object.entries(SSO_ERRORS)) {
    t.match(readme, new RegExp(`\\| \`${code}\` \\| ${spec.status} \\|`), code)
  }
})

t.test('every domain event is documented in the README', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const source = readFileSync(new URL('../src/events.ts', import.meta.url), 'utf8')
  const names = [...source.matchAll(/^\s+'([a-zA-Z.]+)':/gm)].map((m) => m[1])
  t.ok(names.length >= 10)
  for (const name of names) t.match(readme, `\`${name}\``, name)
})
