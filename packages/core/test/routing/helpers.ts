import type { UsageEvent } from '@tollgate/core'
import type { TestGateway } from '@tollgate/core/testing'
import { setTimeout as sleep } from 'node:timers/promises'

/** Collects the usage events a gateway records and waits for one by request id. */
export function usageRecorder(gw: TestGateway) {
  const recorded: UsageEvent[] = []
  gw.events.on('usage.recorded', ({ events }) => void recorded.push(...events))
  return {
    recorded,
    async for(requestId: string, timeoutMs = 5000): Promise<UsageEvent> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const e = recorded.find((x) => x.requestId === requestId)
        if (e) return e
        if (Date.now() > deadline) throw new Error(`no usage event for ${requestId}`)
        await sleep(10)
      }
    },
  }
}

/** A chat completion POSTed with fetch (status, headers and body as the client sees them). */
export async function chat(url: string, key: string, body: Record<string, unknown>, path = '/v1/chat/completions') {
  const started = performance.now()
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(path === '/v1/messages' ? { 'anthropic-version': '2023-06-01' } : {}) },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json, ms: performance.now() - started, requestId: res.headers.get('x-request-id') ?? '' }
}

/** Waits until the wall clock is at least `marginMs` away from the next minute boundary (rate-limit windows are whole minutes). */
export async function awayFromMinuteBoundary(marginMs = 4000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < marginMs) await sleep(left + 50)
}
