import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as validator from '@authenio/samlify-node-xmllint'
import * as samlify from 'samlify'

samlify.setSchemaValidator(validator)

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')

/** The test IdP's signing certificate and key, and an attacker's. */
export const IDP_CERT = fixture('idp-cert.pem')
export const IDP_KEY = fixture('idp-key.pem')
export const ATTACKER_CERT = fixture('attacker-cert.pem')
export const ATTACKER_KEY = fixture('attacker-key.pem')

/** What the next login response says (defaults: an honest response for the request). */
export interface SamlResponseShape {
  email: string
  name: string
  groups: string[]
  audience?: string
  recipient?: string
  /** Offsets from now, seconds (negative: already expired). */
  notOnOrAfterSeconds?: number
  /** Sign with this key and certificate instead of the IdP's. */
  signWith?: { key: string; cert: string }
}

/** A samlify identity provider on loopback: `GET /sso` takes the AuthnRequest (HTTP-Redirect) and answers an auto-post form. */
export interface TestSamlIdp {
  entityId: string
  ssoUrl: string
  next: SamlResponseShape
  /** Builds a signed response for a parsed request without HTTP (variant generation). */
  lastResponseXml: string | undefined
  close(): Promise<void>
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function attributeStatement(shape: SamlResponseShape): string {
  const attr = (name: string, values: string[]) =>
    `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values
      .map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`)
      .join('')}</saml:Attribute>`
  return `<saml:AttributeStatement>${attr('email', [shape.email])}${attr('name', [shape.name])}${shape.groups.length ? attr('groups', shape.groups) : ''}</saml:AttributeStatement>`
}

/** Starts the IdP; `spMetadata()` returns the SP's metadata XML (fetched from the gateway). */
export async function startSamlIdp(spMetadata: () => Promise<string>): Promise<TestSamlIdp> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const entityId = `${base}/metadata`
  const makeIdp = (key: string, cert: string) =>
    samlify.IdentityProvider({
      entityID: entityId,
      privateKey: key,
      signingCert: cert,
      isAssertionEncrypted: false,
      wantAuthnRequestsSigned: false,
      nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` }],
    })
  const honest = makeIdp(IDP_KEY, IDP_CERT)
  const idp: TestSamlIdp = {
    entityId,
    ssoUrl: `${base}/sso`,
    next: { email: 'saml.user@example.com', name: 'Saml User', groups: [] },
    lastResponseXml: undefined,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }

  async function sso(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base)
    const sp = samlify.ServiceProvider({ metadata: await spMetadata() })
    // samlify's parse result and its createLoginResponse input are typed apart
    const parsed: any = await honest.parseLoginRequest(sp, 'redirect', { query: Object.fromEntries(url.searchParams) })
    const shape = idp.next
    const signer = shape.signWith ? makeIdp(shape.signWith.key, shape.signWith.cert) : honest
    const acs = sp.entityMeta.getAssertionConsumerService('post') as string
    const now = new Date()
    const until = new Date(now.getTime() + (shape.notOnOrAfterSeconds ?? 300) * 1000).toISOString()
    const notBefore = new Date(Math.min(now.getTime(), now.getTime() + (shape.notOnOrAfterSeconds ?? 300) * 1000 - 60_000)).toISOString()
    const { context } = await signer.createLoginResponse(sp, parsed, 'post', { email: shape.email }, {
      relayState: url.searchParams.get('RelayState') ?? undefined,
      customTagReplacement: (template: string) => {
        const id = `_${crypto.randomUUID()}`
        const values: Record<string, string> = {
          ID: id,
          AssertionID: `_${crypto.randomUUID()}`,
          Destination: acs,
          Audience: shape.audience ?? sp.entityMeta.getEntityID(),
          SubjectRecipient: shape.recipient ?? acs,
          Issuer: entityId,
          IssueInstant: shape.notOnOrAfterSeconds !== undefined && shape.notOnOrAfterSeconds < 0 ? notBefore : now.toISOString(),
          StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
          ConditionsNotBefore: notBefore,
          ConditionsNotOnOrAfter: until,
          SubjectConfirmationDataNotOnOrAfter: until,
          NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
          NameID: esc(shape.email),
          InResponseTo: parsed.extract.request.id,
          AuthnStatement: `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_s${Date.now()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
          AttributeStatement: attributeStatement(shape),
        }
        return { id, context: template.replace(/\{(\w+)\}/g, (m, tag: string) => values[tag] ?? m) }
      },
    })
    idp.lastResponseXml = Buffer.from(context, 'base64').toString('utf8')
    const relay = url.searchParams.get('RelayState') ?? ''
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(`<html><body><form method="post" action="${esc(acs)}"><input type="hidden" name="SAMLResponse" value="${context}"/><input type="hidden" name="RelayState" value="${esc(relay)}"/></form></body></html>`)
  }

  server.on('request', (req, res) => {
    void sso(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(String((err as Error)?.stack ?? err))
    })
  })
  return idp
}
