import { connect } from 'node:net'
import t from 'tap'
import { createTestGateway } from '@tollgate/core/testing'

t.test('oversized bodies get 413 before being read whole; deep JSON and bad JSON are refused', async (t) => {
  const gw = await createTestGateway({ config: { server: { bodyLimitBytes: 64 * 1024, maxJsonDepth: 32 } } })
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const port = Number(new URL(url).port)

  // Announce 10 MB, send 1 KB, and wait: the answer must come without the rest of the body.
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const timer = setTimeout(() => reject(new Error('no answer: the server waited for the whole body')), 3000)
    socket.on('data', (d) => {
      data += d
      if (data.includes('\r\n\r\n') && data.includes('}')) {
        clearTimeout(timer)
        socket.destroy()
        resolve(data)
      }
    })
    socket.on('error', () => undefined)
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${10 * 1024 * 1024}\r\n\r\n`,
    )
    socket.write(`{"model":"mock-echo","messages":[{"role":"user","content":"${'a'.repeat(1000)}`)
  })
  t.match(answer, /^HTTP\/1.1 413/)
  t.match(answer, /TOLLGATE_ERR_REQUEST_TOO_LARGE/)
  t.match(answer, /"type":"invalid_request_error"/, 'in the OpenAI error shape')

  const deep = '['.repeat(5000) + ']'.repeat(5000)
  const deepRes = await gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, payload: `{"model":"mock-echo","messages":${deep}}` })
  t.equal(deepRes.statusCode, 400)
  t.equal(deepRes.json().error.code, 'TOLLGATE_ERR_REQUEST_INVALID_JSON')
  t.match(deepRes.json().error.message, /nested deeper than 32/)

  const bad = await gw.app.inject({ method: 'POST', url: '/v1/messages', headers: { 'x-api-key': gw.apiKey, 'content-type': 'application/json' }, payload: '{"model": ' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().type, 'error', 'Anthropic error shape on /v1/messages')
  t.equal(bad.json().error.code, 'TOLLGATE_ERR_REQUEST_INVALID_JSON')

  const invalid = await gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, payload: { model: 'mock-echo', messages: [{ role: 'wizard', content: 'hi' }] } })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.json().error.code, 'TOLLGATE_ERR_REQUEST_INVALID_BODY')
  t.match(invalid.json().error.param, /messages\[0\]/, 'the error names the field')

  const noKey = await gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, payload: { model: 'mock-echo', messages: [] } })
  t.equal(noKey.statusCode, 401)
  t.equal(noKey.json().error.code, 'TOLLGATE_ERR_AUTH_MISSING_CREDENTIALS')
  const wrongKey = await gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer tg-${'x'.repeat(43)}`, 'content-type': 'application/json' }, payload: { model: 'mock-echo', messages: [] } })
  t.equal(wrongKey.statusCode, 401)
  t.equal(wrongKey.json().error.code, 'TOLLGATE_ERR_AUTH_INVALID_KEY')
  const unknownModel = await gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' }, payload: { model: 'gpt-99', messages: [{ role: 'user', content: 'x' }] } })
  t.equal(unknownModel.statusCode, 404)
  t.equal(unknownModel.json().error.code, 'TOLLGATE_ERR_MODEL_NOT_FOUND')
  t.equal(unknownModel.json().error.param, 'model')
})

t.test('regression: a stream ends with its last message before the chunked terminator (coalesced writes)', async (t) => {
  const gw = await createTestGateway()
  t.teardown(() => gw.close())
  const url = await gw.listen({ port: 0 })
  const { request } = await import('node:http')
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve(text))
      res.on('error', reject)
    })
    req.end(JSON.stringify({ model: 'mock-echo', stream: true, messages: [{ role: 'user', content: 'one two three four five six' }] }))
  })
  t.match(body, /^data: \{/)
  t.ok(body.endsWith('data: [DONE]\n\n'), 'the [DONE] message arrived, last')
  t.equal(body.match(/\[DONE\]/g)?.length, 1)
})
