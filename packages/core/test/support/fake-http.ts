/**
 * What the fake upstreams (fake-openai.ts, fake-anthropic.ts) share: a node:http server on
 * 127.0.0.1 and port 0 that records every request (headers and parsed body), counts connections
 * and SSE streams (so a test can assert that a client abort closed the upstream socket), and
 * writes scripted SSE with pacing, hangs, cuts and error events.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** A request the fake received. */
export interface RecordedRequest {
  method: string
  /** Path with query ("/v1/chat/completions"). */
  path: string
  headers: IncomingHttpHeaders
  /** The body parsed as JSON (undefined when it is not JSON). */
  body: any
  rawBody: string
}

/** Connection and stream counters of a fake. */
export interface FakeStats {
  connectionsOpened: number
  connectionsClosed: number
  /** Connections open now. */
  readonly openConnections: number
  streamsStarted: number
  /** Streams that wrote their last message and ended normally. */
  streamsCompleted: number
  /** Streams whose socket closed before they ended (client abort, or a scripted cut). */
  streamsClosedEarly: number
  /** Streams in progress now. */
  readonly openStreams: number
}

/** A fault injected into a stream after `after` SSE messages were written. */
export interface StreamFault {
  after: number
  /** error: send the vendor's error event and end; hang: stop writing, keep the socket open; cut: destroy the socket. */
  kind: 'error' | 'hang' | 'cut'
}

/** Options of one SSE response. */
export interface SseWriteOptions {
  headers?: Record<string, string>
  /** Delay before each message, ms. */
  delayMs?: number
  fault?: StreamFault
  /** The error event written for `fault.kind === 'error'`. */
  errorEvent?: string
  /** Use CRLF line endings instead of LF. */
  crlf?: boolean
  /** Split every message in two writes at this byte offset (exercises parsers on split events). */
  splitAt?: number
}

/** A started fake server. */
export interface FakeServer {
  url: string
  port: number
  requests: RecordedRequest[]
  stats: FakeStats
  /** Resolves when `predicate` holds, polling every 5 ms; rejects after `timeoutMs` (default 2000). */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

type Handler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest, helpers: { writeSse: (messages: string[], options?: SseWriteOptions) => Promise<void> }) => Promise<void> | void

/** Starts a recording server around `handler`. */
export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const stats: FakeStats = {
    connectionsOpened: 0,
    connectionsClosed: 0,
    streamsStarted: 0,
    streamsCompleted: 0,
    streamsClosedEarly: 0,
    get openConnections() {
      return this.connectionsOpened - this.connectionsClosed
    },
    get openStreams() {
      return this.streamsStarted - this.streamsCompleted - this.streamsClosedEarly
    },
  }
  const counters = stats

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const rawBody = Buffer.concat(chunks).toString('utf8')
    let body: any
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined
    } catch {
      body = undefined
    }
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body, rawBody }
    requests.push(recorded)
    const writeSse = (messages: string[], options: SseWriteOptions = {}) => writeSseMessages(res, messages, options, counters)
    try {
      await handler(req, res, recorded, { writeSse })
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: `fake server failed: ${(err as Error).message}`, type: 'server_error' } }))
      } else res.destroy()
    }
  })
  server.on('connection', (socket) => {
    counters.connectionsOpened++
    sockets.add(socket)
    socket.on('close', () => {
      counters.connectionsClosed++
      sockets.delete(socket)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    stats,
    async waitFor(predicate, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error('fake server: condition not reached in time')
        await sleep(5)
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function writeSseMessages(
  res: ServerResponse,
  messages: string[],
  options: SseWriteOptions,
  counters: { streamsStarted: number; streamsCompleted: number; streamsClosedEarly: number },
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...options.headers })
  res.flushHeaders()
  counters.streamsStarted++
  let settled = false
  const settle = (how: 'completed' | 'early') => {
    if (settled) return
    settled = true
    if (how === 'completed') counters.streamsCompleted++
    else counters.streamsClosedEarly++
  }
  res.on('close', () => settle(res.writableFinished ? 'completed' : 'early'))
  const fault = options.fault
  for (let i = 0; i <= messages.length; i++) {
    if (fault && fault.after === i) {
      if (fault.kind === 'cut') {
        res.socket?.destroy()
        return
      }
      if (fault.kind === 'hang') return // never ends; the client has to give up
      if (options.errorEvent) res.write(options.crlf ? options.errorEvent.replace(/\n/g, '\r\n') : options.errorEvent)
      res.end()
      return
    }
    if (i === messages.length) break
    if (options.delayMs) await sleep(options.delayMs)
    if (res.destroyed) return
    const text = options.crlf ? messages[i].replace(/\n/g, '\r\n') : messages[i]
    if (options.splitAt !== undefined && options.splitAt > 0 && options.splitAt < Buffer.byteLength(text)) {
      const bytes = Buffer.from(text)
      res.write(bytes.subarray(0, options.splitAt))
      await sleep(1)
      if (res.destroyed) return
      res.write(bytes.subarray(options.splitAt))
    } else res.write(text)
  }
  res.end()
}

/** The text of the last user message of an OpenAI or Anthropic request body. */
export function lastUserText(body: any): string {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : []
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]
    if (m?.role !== 'user') continue
    if (typeof m.content === 'string') return m.content
    if (Array.isArray(m.content)) return m.content.filter((p: any) => p?.type === 'text').map((p: any) => p.text).join(' ')
    return ''
  }
  return ''
}

/** Splits a text into word-sized pieces (spaces stay with the word before them). */
export function wordPieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? []
}
