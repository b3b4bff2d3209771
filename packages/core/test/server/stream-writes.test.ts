import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { createTestGateway } from '@tollgate/core/testing'
import { openAIChunk, startTinyUpstream } from '../support/tiny-upstream.ts'

const FINISH = openAIChunk(null, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
const USAGE = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', choices: [], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } })}\n\n`

/**
 * Posts a streamed request over a raw socket and returns the HTTP chunks of the answer body as
 * framed on the wire (chunked transfer encoding); `onChunk` hears of each as it completes. The
 * framing shows how the gateway wrote, whatever TCP did to the segments.
 */
async function rawChunks(url: string, apiKey: string, onChunk: (count: number) => void = () => undefined): Promise<string[]> {
  const { hostname, port } = new URL(url)
  const body = JSON.stringify({ model: 'tiny-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] })
  const socket = connect(Number(port), hostname)
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  let buffer = Buffer.alloc(0)
  let headersDone = false
  const chunks: string[] = []
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject)
    socket.on('close', () => reject(new Error('the connection closed before the answer was complete')))
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data])
      if (!headersDone) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffer.subarray(0, end).toString('latin1')
        if (!/^HTTP\/1\.1 200/.test(head) || !/transfer-encoding: chunked/i.test(head)) return reject(new Error(`unexpected answer: ${head}`))
        buffer = buffer.subarray(end + 4)
        headersDone = true
      }
      for (;;) {
        const line = buffer.indexOf('\r\n')
        if (line === -1) return
        const size = Number.parseInt(buffer.subarray(0, line).toString('latin1'), 16)
        if (buffer.length < line + 2 + size + 2) return
        if (size === 0) {
          // The terminating chunk: the answer is complete.
          socket.destroy()
          return resolve()
        }
        chunks.push(buffer.subarray(line + 2, line + 2 + size).toString('utf8'))
        buffer = buffer.subarray(line + 2 + size + 2)
        onChunk(chunks.length)
      }
    })
  })
  return chunks
}

async function gatewayInFrontOf(t: Test, handler: Parameters<typeof startTinyUpstream>[0]) {
  const upstream = await startTinyUpstream(handler)
  t.teardown(() => upstream.close())
  const gw = await createTestGateway({
    config: {
      providers: [{ id: 'tiny', kind: 'openai', baseUrl: upstream.url, apiKey: 'sk-test' }],
      models: [{ name: 'tiny-model', provider: 'tiny', prices: { input: '1', output: '1' } }],
    },
  })
  t.teardown(() => gw.close())
  return { gw, url: await gw.listen({ port: 0, host: '127.0.0.1' }) }
}

t.test('a stream whose upstream answer arrives whole leaves in one write: one HTTP chunk, [DONE] and usage included', async (t) => {
  const { gw, url } = await gatewayInFrontOf(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end([openAIChunk('one '), openAIChunk('two'), FINISH, USAGE, 'data: [DONE]\n\n'].join(''))
  })
  const chunks = await rawChunks(url, gw.apiKey)
  t.equal(chunks.length, 1, 'everything one upstream read completed went out as one chunk, the end of the stream with it')
  t.match(chunks[0], /"content":"one ".*"content":"two".*"finish_reason":"stop".*"usage":\{"prompt_tokens":3.*data: \[DONE\]\n\n$/s)
})

t.test('a stream that arrives in parts is passed on part by part, each as it arrives', async (t) => {
  // The upstream sends each part only once the client has the one before: a gateway that held
  // parts back would never finish this stream.
  const received: ((count: number) => void)[] = []
  const clientHas = (count: number) => new Promise<void>((resolve) => received.push((n) => n >= count && resolve()))
  const { gw, url } = await gatewayInFrontOf(t, async (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(openAIChunk('one '))
    await clientHas(1)
    res.write(openAIChunk('two'))
    await clientHas(2)
    res.end([FINISH, USAGE, 'data: [DONE]\n\n'].join(''))
  })
  const chunks = await rawChunks(url, gw.apiKey, (count) => {
    for (const r of received) r(count)
  })
  t.equal(chunks.length, 3, 'one chunk per upstream write, the end of the stream with the last')
  t.match(chunks[0], /"content":"one "/)
  t.notMatch(chunks[0], /two/)
  t.match(chunks[1], /"content":"two"/)
  t.match(chunks[2], /"finish_reason":"stop".*data: \[DONE\]\n\n$/s)
})
