import { readFile } from 'node:fs/promises'
import { registeredErrorCodes } from '@tollgate/core'
import { AUDIT_ERRORS } from '@tollgate/plugin-audit'
import t from 'tap'

t.test('every audit error code is registered and documented in the README', async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const codes = Object.keys(AUDIT_ERRORS)
  t.ok(codes.length > 0)
  for (const code of codes) {
    t.match(code, /^TOLLGATE_ERR_AUDIT_[A-Z_]+$/)
    t.ok(registeredErrorCodes().has(code), `${code} is registered`)
    t.ok(readme.includes(code), `${code} is in the README`)
  }
})
