import { createSign, createHmac, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

/** A user of the test IdP. */
export interface IdpUser {
  email: string
  name: string
  groups: string[]
}

/** A test OIDC identity provider (oidc-provider) on loopback, with hooks to forge its token responses. */
export interface TestOidcIdp {
  issuer: string
  /** The account the next interaction signs in. */
  signInAs(accountId: string): void
  /** Rewrites the next token responses (forgery tests); undefined restores honest answers. */
  tamper: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined
  /** The raw form body of the last token request the gateway made. */
  lastTokenRequest: URLSearchParams | undefined
  /** Signs a JWT with the IdP's real key (RS256) or as told. */
  jwt(header: Record<string, unknown>, claims: Record<string, unknown>, how?: 'rs256' | 'none' | { hs256Secret: string }): string
  publicKeyPem: string
  kid: string
  close(): Promise<void>
}

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Starts oidc-provider on 127.0.0.1 (the issuer URL is known before the provider is built: the
 * server listens first). Interactions are answered without a UI: login as the chosen account,
 * consent granting the requested scopes. PKCE is required for every client.
 */
export async function startOidcIdp(input: { clients: { client_id: string; client_secret: string; redirect_uris: string[] }[]; users: Record<string, IdpUser> }): Promise<TestOidcIdp> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = randomUUID()
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, use: 'sig', alg: 'RS256' }
  let account = Object.keys(input.users)[0]
  const provider = new Provider(issuer, {
    clients: input.clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' })),
    jwks: { keys: [jwk] },
    cookies: { keys: ['tollgate-test-cookie-key'] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx: unknown, id: string) => {
      const u = input.users[id]
      if (!u) return undefined
      return { accountId: id, claims: async () => ({ sub: id, email: u.email, email_verified: true, name: u.name, groups: u.groups }) }
    },
  } as never)
  const callback = provider.callback()
  const idp: TestOidcIdp = {
    issuer,
    signInAs(id) {
      account = id
    },
    tamper: undefined,
    lastTokenRequest: undefined,
    jwt(header, claims, how = 'rs256') {
      const signingInput = `${b64(header)}.${b64(claims)}`
      if (how === 'none') return `${signingInput}.`
      if (typeof how === 'object') return `${signingInput}.${createHmac('sha256', how.hs256Secret).update(signingInput).digest('base64url')}`
      return `${signingInput}.${createSign('RSA-SHA256').update(signingInput).sign(privateKey as KeyObject).toString('base64url')}`
    },
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    kid,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }

  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res)
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false })
      return
    }
    const params = details.params as { client_id: string; scope: string }
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session?.accountId as string, clientId: params.client_id })
    if (!grant) throw new Error('no grant')
    grant.addOIDCScope(params.scope)
    const grantId = await grant.save()
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        if (req.url?.startsWith('/interaction/')) return await interaction(req, res)
        if (req.url === '/token' && req.method === 'POST' && !req.headers['x-test-direct']) {
          // Pass the token request through to the provider, keeping a copy, then apply the forgery hook.
          const body = await readBody(req)
          idp.lastTokenRequest = new URLSearchParams(body)
          const headers: Record<string, string> = { 'x-test-direct': '1' }
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v
          const upstream = await fetch(`${issuer}/token`, { method: 'POST', headers, body })
          let text = await upstream.text()
          if (upstream.ok && idp.tamper) text = JSON.stringify(idp.tamper(JSON.parse(text) as Record<string, unknown>))
          res.writeHead(upstream.status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          res.end(text)
          return
        }
        callback(req, res)
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(String((err as Error).stack))
      }
    })()
  })
  return idp
}
