import { readFileSync } from 'node:fs'
import t from 'tap'
import { GUARDRAILS_ERRORS } from '../src/index.ts'

/** Every error code of the plugin is documented in the README with its status, and nothing else is. */
t.test('the README lists exactly the catalog, with the right statuses', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const documented = new Map([...readme.matchAll(/\| `(TOLLGATE_ERR_GUARDRAILS_[A-Z_]+)` \| (\d{3}) \|/g)].map((m) => [m[1], Number(m[2])]))
  t.same([...documented.keys()].sort(), Object.keys(GUARDRAILS_ERRORS).sort())
  for (const [code, spec] of Object.entries(GUARDRAILS_ERRORS)) t.equal(documented.get(code), spec.status, code)
})
