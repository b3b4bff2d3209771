import { createTestGateway, type TestGateway } from '@tollgate/core/testing'
import { ssoPlugin } from '../../src/index.js'

/** The gateway's public origin in tests (requests to it go through inject). */
export const GATEWAY = 'https://gw.test'

/** A test gateway with the sso plugin (publicUrl = GATEWAY). */
export async function ssoGateway(t: { teardown(fn: () => unknown): void }, config: Record<string, unknown> = {}): Promise<TestGateway> {
  const gw = await createTestGateway({ plugins: [ssoPlugin({ publicUrl: GATEWAY, ...config })] })
  t.teardown(() => gw.close())
  return gw
}

/** A JSON request with the seeded owner's API key (or other headers). */
export async function api(gw: { app: TestGateway['app']; apiKey?: string }, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${gw.apiKey}` }) {
  const res = await gw.app.inject({ method, url, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, payload: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.statusCode, body: res.body ? (safeJson(res.body) as any) : undefined, headers: res.headers }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
