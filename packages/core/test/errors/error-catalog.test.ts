import { readFileSync } from 'node:fs'
import t from 'tap'
import { CORE_ERRORS, TollgateError, anthropicErrorBody, openAIErrorBody } from '@tollgate/core'

const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8')

t.test('every core error code is documented with its status and types', async (t) => {
  for (const [code, spec] of Object.entries(CORE_ERRORS)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`))
    t.ok(row, `${code} is listed in docs/errors.md`)
    if (!row) continue
    const cells = row.split('|').map((c) => c.trim())
    t.equal(Number(cells[2]), spec.status, `${code} status`)
    t.equal(cells[3], spec.openai, `${code} OpenAI type`)
    t.equal(cells[4], spec.anthropic, `${code} Anthropic type`)
  }
  const documented = [...doc.matchAll(/^\| `(TOLLGATE_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1])
  t.same(documented.filter((c) => !(c in CORE_ERRORS)), [], 'the doc lists no code that does not exist')
})

t.test('codes follow TOLLGATE_ERR_<AREA>_<WHAT>', async (t) => {
  for (const code of Object.keys(CORE_ERRORS)) t.match(code, /^TOLLGATE_ERR_[A-Z0-9]+_[A-Z0-9_]+$/)
})

t.test('errors render in each client protocol shape', async (t) => {
  const err = new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'messages[0].role must be one of …', { field: 'messages[0].role' })
  t.same(openAIErrorBody(err), { error: { message: err.message, type: 'invalid_request_error', param: 'messages[0].role', code: 'TOLLGATE_ERR_REQUEST_INVALID_BODY' } })
  const a = anthropicErrorBody(err, 'req-1') as { type: string; error: { type: string; code: string }; request_id: string }
  t.equal(a.type, 'error')
  t.equal(a.error.type, 'invalid_request_error')
  t.equal(a.error.code, 'TOLLGATE_ERR_REQUEST_INVALID_BODY')
  t.equal(a.request_id, 'req-1')
})
