import type { FastifyInstance } from 'fastify'

/** A response as the test browser saw it. */
export interface Seen {
  status: number
  url: string
  headers: Record<string, string | string[] | undefined>
  body: string
}

/**
 * A tiny browser for sign-in flows: a cookie jar per origin, manual redirects, and two transports
 * — requests to the gateway's public origin go through fastify inject (the gateway's real HTTP
 * stack, no socket), everything else (the IdPs on loopback) through fetch.
 */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>()

  constructor(
    private readonly app: FastifyInstance,
    readonly gatewayOrigin: string,
  ) {}

  /** A cookie the browser holds for an origin. */
  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(origin)?.get(name)
  }

  #store(origin: string, setCookie: string[]): void {
    const jar = this.jar.get(origin) ?? new Map<string, string>()
    for (const line of setCookie) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = decodeURIComponent(pair.slice(eq + 1).trim())
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === ''
      if (expired) jar.delete(name)
      else jar.set(name, value)
    }
    this.jar.set(origin, jar)
  }

  #cookieHeader(origin: string): string | undefined {
    const jar = this.jar.get(origin)
    if (!jar || jar.size === 0) return undefined
    return [...jar].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  }

  /** One request, no redirect following. */
  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>, headers: Record<string, string> = {}): Promise<Seen> {
    const u = new URL(url)
    const cookie = this.#cookieHeader(u.origin)
    const body = form ? new URLSearchParams(form).toString() : undefined
    const h: Record<string, string> = { ...headers, ...(cookie ? { cookie } : {}), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }
    if (u.origin === this.gatewayOrigin) {
      const res = await this.app.inject({ method, url: `${u.pathname}${u.search}`, headers: { ...h, host: u.host }, payload: body })
      const sc = res.headers['set-cookie']
      this.#store(u.origin, sc === undefined ? [] : Array.isArray(sc) ? sc : [sc])
      return { status: res.statusCode, url, headers: res.headers as Seen['headers'], body: res.body }
    }
    const res = await fetch(url, { method, headers: h, body, redirect: 'manual' })
    this.#store(u.origin, res.headers.getSetCookie())
    const out: Record<string, string> = {}
    res.headers.forEach((v, k) => {
      out[k] = v
    })
    return { status: res.status, url, headers: out, body: await res.text() }
  }

  /** Follows redirects from a first request until a non-redirect answer (or `stopAt` matches the next URL). */
  async follow(url: string, options: { stopAt?: (next: string) => boolean; method?: 'GET' | 'POST'; form?: Record<string, string> } = {}): Promise<Seen> {
    let res = await this.request(options.method ?? 'GET', url, options.form)
    for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400; hops++) {
      const location = String(res.headers.location)
      const next = new URL(location, res.url).href
      if (options.stopAt?.(next)) return res
      res = await this.request('GET', next)
    }
    return res
  }
}

/** Reads an auto-submit form (action and hidden inputs) from an HTML page. */
export function formOf(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/i.exec(html)?.[1]
  if (!action) throw new Error(`no form in page: ${html.slice(0, 200)}`)
  const fields: Record<string, string> = {}
  for (const m of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) fields[m[1]] = m[2].replace(/&quot;/g, '"').replace(/&amp;/g, '&')
  return { action: action.replace(/&amp;/g, '&'), fields }
}
