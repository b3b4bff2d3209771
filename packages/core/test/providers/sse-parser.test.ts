import t from 'tap'
import { type SseMessage, SseParser } from '../../src/providers/sse-parser.js'

const strip = (messages: SseMessage[]) => messages.map(({ event, data, id }) => ({ event, data, id }))

function parseAll(chunks: (Uint8Array | string)[]): SseMessage[] {
  const parser = new SseParser()
  const out: SseMessage[] = []
  for (const chunk of chunks) out.push(...parser.push(chunk))
  out.push(...parser.end())
  return out
}

const enc = new TextEncoder()

// A stream with everything a parser can trip over: comments, named events, multi-line data,
// an id, a field without a colon, a value without the space, CRLF and lone-CR line ends, and
// multi-byte UTF-8 (2, 3 and 4 bytes); and the common `data: …` + blank line messages the parser
// cuts out whole, next to a multi-line one that starts like them.
const STREAM =
  ': keep-alive comment\n\n' +
  'data: {"fast":"é"}\n\n' +
  'data: first\ndata: second\n\n' +
  'event: message_start\ndata: {"type":"message_start","text":"héllo"}\n\n' +
  'data: line one\r\ndata: line two\r\n\r\n' +
  'id: 42\ndata:no-space\n\n' +
  'data: 日本語 🎉\rdata\r\r' +
  'event: ping\n: comment inside\ndata: {"type":"ping"}\n\n' +
  'data: [DONE]\n\n'

const EXPECTED = [
  { event: undefined, data: '{"fast":"é"}', id: undefined },
  { event: undefined, data: 'first\nsecond', id: undefined },
  { event: 'message_start', data: '{"type":"message_start","text":"héllo"}', id: undefined },
  { event: undefined, data: 'line one\nline two', id: undefined },
  { event: undefined, data: 'no-space', id: '42' },
  { event: undefined, data: '日本語 🎉\n', id: undefined },
  { event: 'ping', data: '{"type":"ping"}', id: undefined },
  { event: undefined, data: '[DONE]', id: undefined },
]

t.test('parses a whole stream in one chunk', async (t) => {
  t.same(strip(parseAll([enc.encode(STREAM)])), EXPECTED)
})

t.test('gives the same messages and raw text for a split at every byte offset', async (t) => {
  const bytes = enc.encode(STREAM)
  const whole = parseAll([bytes])
  for (let i = 1; i < bytes.length; i++) {
    const split = parseAll([bytes.subarray(0, i), bytes.subarray(i)])
    if (JSON.stringify(split) !== JSON.stringify(whole)) {
      t.same(split, whole, `split at byte ${i}`)
      return
    }
  }
  t.pass(`all ${bytes.length - 1} splits agree`)
})

t.test('survives byte-at-a-time delivery', async (t) => {
  const bytes = enc.encode(STREAM)
  const chunks: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1))
  t.same(strip(parseAll(chunks)), EXPECTED)
})

t.test('raw is the exact framing of each message, comment-only blocks dropped', async (t) => {
  const raw = parseAll([enc.encode(STREAM)]).map((m) => m.raw)
  t.same(raw, [
    'data: {"fast":"é"}\n\n',
    'data: first\ndata: second\n\n',
    'event: message_start\ndata: {"type":"message_start","text":"héllo"}\n\n',
    'data: line one\r\ndata: line two\r\n\r\n',
    'id: 42\ndata:no-space\n\n',
    'data: 日本語 🎉\rdata\r\r',
    'event: ping\n: comment inside\ndata: {"type":"ping"}\n\n',
    'data: [DONE]\n\n',
  ])
})

t.test('emits messages as soon as their blank line arrives', async (t) => {
  const parser = new SseParser()
  t.same(parser.push('data: a\n'), [], 'no message before the blank line')
  t.same(strip(parser.push('\ndata: b')), [{ event: undefined, data: 'a', id: undefined }])
  t.same(parser.push('\n'), [])
  t.same(strip(parser.push('\n')), [{ event: undefined, data: 'b', id: undefined }])
})

t.test('a CR at the end of a chunk waits for the next byte before deciding CR or CRLF', async (t) => {
  const parser = new SseParser()
  t.same(parser.push('data: x\r\n\r'), [])
  const out = parser.push('\ndata: y\r\n\r\n')
  t.same(
    out.map((m) => m.raw),
    ['data: x\r\n\r\n', 'data: y\r\n\r\n'],
  )
})

t.test('end() dispatches a last message without its blank line, and drops an event line alone', async (t) => {
  t.same(strip(parseAll(['data: tail'])), [{ event: undefined, data: 'tail', id: undefined }])
  t.same(parseAll(['event: lonely\n\n']), [])
})

t.test('a UTF-8 sequence split across chunks is decoded once', async (t) => {
  const bytes = enc.encode('data: 🎉\n\n')
  // the emoji is 4 bytes starting at offset 6
  const out = parseAll([bytes.subarray(0, 7), bytes.subarray(7, 9), bytes.subarray(9)])
  t.equal(out[0].data, '🎉')
})

t.test('a large message across many chunks is parsed in linear time', async (t) => {
  const payload = 'x'.repeat(2_000_000)
  const bytes = enc.encode(`data: ${payload}\n\n`)
  const parser = new SseParser()
  const started = performance.now()
  const out: SseMessage[] = []
  for (let i = 0; i < bytes.length; i += 1024) out.push(...parser.push(bytes.subarray(i, i + 1024)))
  const ms = performance.now() - started
  t.equal(out.length, 1)
  t.equal(out[0].data.length, payload.length)
  t.ok(ms < 500, `parsed in ${ms.toFixed(0)} ms`)
})
