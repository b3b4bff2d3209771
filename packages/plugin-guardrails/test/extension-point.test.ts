import t from 'tap'
import OpenAI from 'openai'
import { definePlugin } from '@tollgate/core'
import { GuardrailsExtensions, regexMatches } from '../src/index.ts'
import { startGuardedGateway } from './support/gateway.ts'

/** A company rule added through the extension point, exactly as the README shows it. */
const employeeIds = definePlugin({
  id: 'acme-rules',
  register(host) {
    host.services.extend(GuardrailsExtensions.rules, {
      id: 'acme.employee_id',
      category: 'pii',
      placeholder: '[EMPLOYEE_ID]',
      defaultAction: 'redact',
      maxMatchLength: 12,
      keywords: ['emp-'],
      scan: (text) => regexMatches(/\bEMP-\d{6}\b/gi, text),
    })
  },
})

const g = await startGuardedGateway({ defaults: { rules: { 'acme.employee_id': { action: 'block' } } } }, { plugins: [employeeIds()] })
t.teardown(() => g.close())
const openai = new OpenAI({ apiKey: g.gw.apiKey, baseURL: `${g.url}/v1`, maxRetries: 0 })

t.test('the company rule runs like a system rule: policies set its action, violations name it', async (t) => {
  const err = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'who is EMP-123456?' }] }).catch((e) => e)
  t.equal(err.status, 400)
  t.match(err.message, /acme\.employee_id/)
  const auth = { authorization: `Bearer ${g.gw.apiKey}` }
  const put = await g.gw.app.inject({ method: 'PUT', url: `/v1/guardrails/organizations/${g.gw.organizationId}/policy`, headers: auth, payload: { rules: { 'acme.employee_id': { action: 'redact' } } } })
  t.equal(put.statusCode, 200, put.body)
  g.fakeOpenAI.setScript(() => ({ text: 'Ask EMP-654321 instead.', pieces: ['Ask EMP-65', '4321 instead.'] }))
  const stream = await openai.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'who is EMP-123456?' }], stream: true })
  let text = ''
  for await (const c of stream) text += c.choices[0]?.delta?.content ?? ''
  t.equal(text, 'Ask [EMPLOYEE_ID] instead.')
  t.equal(g.fakeOpenAI.requests.at(-1)!.body.messages[0].content, 'who is [EMPLOYEE_ID]?')
  const rules = await g.gw.app.inject({ method: 'GET', url: '/v1/guardrails/rules', headers: auth })
  t.ok(rules.json().data.some((r: { id: string }) => r.id === 'acme.employee_id'), 'listed with the rules in force')
})
