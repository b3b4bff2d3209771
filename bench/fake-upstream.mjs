// A fake OpenAI-compatible upstream for benchmarks: a fixed ~1 KB completion, or an SSE stream of
// 20 chunks plus the usage chunk. Runs in its own process; prints its port on stdout.
import { createServer } from 'node:http'

const content = 'x'.repeat(900)
const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1700000000,
  model: 'bench-model',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 20, completion_tokens: 200, total_tokens: 220 },
})
const chunks = []
for (let i = 0; i < 20; i++) {
  chunks.push(`data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'bench-model', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: 'hello ' } : { content: 'world ' }, finish_reason: null }] })}\n\n`)
}
chunks.push(`data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'bench-model', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`)
chunks.push(`data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'bench-model', choices: [], usage: { prompt_tokens: 20, completion_tokens: 20, total_tokens: 40 } })}\n\n`)
chunks.push('data: [DONE]\n\n')
const streamBody = chunks.join('')

const server = createServer((req, res) => {
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (c) => (body += c))
  req.on('end', () => {
    const stream = body.includes('"stream":true')
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      // Two writes, so the proxy sees a real stream rather than one buffer.
      const half = streamBody.length >> 1
      res.write(streamBody.slice(0, half))
      setImmediate(() => res.end(streamBody.slice(half)))
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(completion) })
      res.end(completion)
    }
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })))
