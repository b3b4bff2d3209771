import { readFileSync } from 'node:fs'
import t from 'tap'
import { COMMERCE_ERRORS } from '../src/commerce/commerce-errors.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('every payments error code is documented in the README with its status', async (t) => {
  for (const [code, spec] of Object.entries(COMMERCE_ERRORS)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\` |`))
    t.ok(row, `${code} is listed in the README`)
    if (row) t.equal(Number(row.split('|')[2].trim()), spec.status, `${code} status`)
  }
  const documented = readme.match(/`TOLLGATE_ERR_(PAYMENT|PLAN|DISCOUNT|REFERRAL)_[A-Z_]+`/g) ?? []
  for (const code of new Set(documented.map((c) => c.slice(1, -1)))) t.ok(code in COMMERCE_ERRORS, `${code} in the README exists in the catalog`)
})
