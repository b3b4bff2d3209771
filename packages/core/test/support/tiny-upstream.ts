import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A minimal local upstream for pipeline tests: the handler decides each answer. */
export async function startTinyUpstream(handler: (req: IncomingMessage, body: any, res: ServerResponse) => void) {
  const sockets = new Set<import('node:net').Socket>()
  let closedSockets = 0
  const server = createServer((req, res) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (c) => (text += c))
    req.on('end', () => handler(req, text ? JSON.parse(text) : undefined, res))
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => {
      sockets.delete(s)
      closedSockets++
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get openSockets() {
      return sockets.size
    },
    get closedSockets() {
      return closedSockets
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** An OpenAI chat.completion.chunk SSE line. */
export function openAIChunk(content: string | null, extra: Record<string, unknown> = {}): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: null }], ...extra })}\n\n`
}
