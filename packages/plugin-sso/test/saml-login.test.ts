import { readdirSync, readFileSync } from 'node:fs'
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml'
import t from 'tap'
import { Browser, formOf } from './support/browser.js'
import { api, GATEWAY, ssoGateway } from './support/gateway.js'
import { ATTACKER_CERT, ATTACKER_KEY, IDP_CERT, type SamlResponseShape, startSamlIdp } from './support/saml-idp.js'

const XSW_DIR = new URL('../../../testdata/saml-xsw/', import.meta.url)

const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64')
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8')

/** The signed assertion element of a samlify response. */
function assertionOf(xml: string): string {
  const start = xml.indexOf('<saml:Assertion')
  const end = xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length
  return xml.slice(start, end)
}

/** An attacker's copy of an assertion: signature removed, new id, another identity. */
function evilCopy(assertion: string): string {
  return assertion
    .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')
    .replace(/ ID="[^"]+"/, ' ID="_evil-assertion"')
    .replaceAll('saml.user@example.com', 'evil@example.com')
}

t.test('SAML sign-in against a samlify IdP', async (t) => {
  const gw = await ssoGateway(t)
  const org = gw.organizationId
  const idp = await startSamlIdp(async () => (await gw.app.inject({ method: 'GET', url: `/sso/saml/${org}/metadata` })).body)
  t.teardown(() => idp.close())
  const failures: { reason: string }[] = []
  gw.events.on('sso.login.failed', (p) => void failures.push(p))

  const put = await api(gw, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'saml', saml: { idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl, idpCertificates: [IDP_CERT] } })
  t.equal(put.status, 200, JSON.stringify(put.body))
  t.equal(put.body.connection.serviceProvider.acsUrl, `${GATEWAY}/sso/saml/${org}/acs`)
  await api(gw, 'PUT', `/sso/organizations/${org}/policy`, { enforced: false, defaultRole: 'member', groupRoles: [{ group: 'admins', role: 'admin' }] })

  const metadata = await gw.app.inject({ method: 'GET', url: `/sso/saml/${org}/metadata` })
  t.equal(metadata.statusCode, 200)
  t.match(metadata.headers['content-type'], /samlmetadata\+xml/)
  t.match(metadata.body, `entityID="${GATEWAY}/sso/saml/${org}/metadata"`)
  t.match(metadata.body, `Location="${GATEWAY}/sso/saml/${org}/acs"`)
  t.match(metadata.body, 'WantAssertionsSigned="true"')

  /** Starts a sign-in and returns the IdP's auto-post form (the signed response and RelayState). */
  async function idpForm(browser: Browser, shape: Partial<SamlResponseShape> = {}) {
    idp.next = { email: 'saml.user@example.com', name: 'Saml User', groups: ['admins'], ...shape }
    const page = await browser.follow(`${GATEWAY}/sso/saml/${org}/login?returnTo=/dashboard`)
    if (page.status !== 200) throw new Error(`IdP page: ${page.status} ${page.body.slice(0, 500)}`)
    return formOf(page.body)
  }
  async function post(browser: Browser, action: string, samlResponse: string, relayState: string) {
    return browser.request('POST', action, { SAMLResponse: samlResponse, RelayState: relayState })
  }
  /** A whole sign-in whose response may be rewritten before it reaches the ACS. */
  async function attempt(mutate: (xml: string) => string = (x) => x, shape: Partial<SamlResponseShape> = {}) {
    const browser = new Browser(gw.app, GATEWAY)
    const form = await idpForm(browser, shape)
    return { browser, form, res: await post(browser, form.action, b64(mutate(unb64(form.fields.SAMLResponse))), form.fields.RelayState) }
  }

  await t.test('full flow: SP-initiated, signed assertion, JIT user with the mapped role', async (t) => {
    const browser = new Browser(gw.app, GATEWAY)
    const start = await browser.request('GET', `${GATEWAY}/sso/saml/${org}/login?returnTo=/dashboard`)
    t.equal(start.status, 302)
    t.ok(String(start.headers.location).startsWith(`${idp.ssoUrl}?SAMLRequest=`), 'HTTP-Redirect AuthnRequest to the IdP')
    const form = await idpForm(browser)
    const res = await post(browser, form.action, form.fields.SAMLResponse, form.fields.RelayState)
    t.equal(res.status, 303, res.body)
    t.equal(res.headers.location, '/dashboard')
    const cookie = `tollgate_session=${browser.cookie(GATEWAY, 'tollgate_session')}`
    const me = await api(gw, 'GET', '/sso/session', undefined, { cookie })
    t.equal(me.body.role, 'admin')
    const user = await gw.identity.findUserByEmail('saml.user@example.com')
    t.equal(me.body.userId, user?.id)

    // Replaying the very same POST: the sign-in state is single-use.
    const replay = await post(browser, form.action, form.fields.SAMLResponse, form.fields.RelayState)
    t.equal(replay.status, 401)
    // Replaying it into a fresh sign-in: InResponseTo does not match that sign-in's request.
    const fresh = new Browser(gw.app, GATEWAY)
    const other = await idpForm(fresh)
    const replay2 = await post(fresh, other.action, form.fields.SAMLResponse, other.fields.RelayState)
    t.equal(replay2.status, 401)
    t.match(failures.at(-1)?.reason, /InResponseTo/)
  })

  await t.test('the replay cache refuses an assertion id seen before (by any instance)', async (t) => {
    const browser = new Browser(gw.app, GATEWAY)
    const form = await idpForm(browser)
    const id = /<saml:Assertion[^>]* ID="([^"]+)"/.exec(unb64(form.fields.SAMLResponse))?.[1]
    t.ok(id)
    await gw.db.orm.em.fork().execute("insert into sso_saml_assertion (organization_id, assertion_id, expires_at) values (?, ?, now() + interval '5 minutes')", [org, id], 'run')
    const res = await post(browser, form.action, form.fields.SAMLResponse, form.fields.RelayState)
    t.equal(res.status, 401)
    t.match(failures.at(-1)?.reason, /replay/)
  })

  const variants: [string, RegExp, (xml: string) => string, Partial<SamlResponseShape>?][] = [
    ['unsigned response', /signature/i, (xml) => xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')],
    ['a second, unsigned assertion', /multiple assertions/, (xml) => xml.replace('<saml:Assertion', `${evilCopy(assertionOf(xml))}<saml:Assertion`)],
    ['signed assertion moved into Advice of an unsigned one', /signature/i, (xml) => {
      const signed = assertionOf(xml)
      const evil = evilCopy(signed).replace('</saml:Conditions>', `</saml:Conditions><saml:Advice>${signed}</saml:Advice>`)
      return xml.replace(signed, evil)
    }],
    ['signed assertion moved into Extensions', /signature/i, (xml) => {
      const signed = assertionOf(xml)
      return xml.replace(signed, evilCopy(signed)).replace('</saml:Issuer>', `</saml:Issuer><samlp:Extensions>${signed}</samlp:Extensions>`)
    }],
    ['comment injection in NameID', /comments/, (xml) => xml.replaceAll('victim@example.com.evil.test', 'victim@example.com<!---->.evil.test'), { email: 'victim@example.com.evil.test' }],
    ['signed content altered (email attribute)', /signature/i, (xml) => xml.replace('>saml.user@example.com</saml:AttributeValue>', '>evil@example.com</saml:AttributeValue>')],
    ['response re-signed with another key', /signature/i, (x) => x, { signWith: { key: ATTACKER_KEY, cert: ATTACKER_CERT } }],
    ['wrong audience', /audience/i, (x) => x, { audience: 'https://other-sp.example/metadata' }],
    ['wrong recipient', /Recipient/, (x) => x, { recipient: 'https://evil.example/acs' }],
    ['expired', /expired|NotOnOrAfter|subject confirmation/i, (x) => x, { notOnOrAfterSeconds: -180 }],
  ]
  await t.test('control: an unmodified response passes through the same path', async (t) => {
    const { res } = await attempt()
    t.equal(res.status, 303, res.body)
  })
  for (const [name, reason, mutate, shape] of variants) {
    await t.test(`rejected: ${name}`, async (t) => {
      const before = failures.length
      const { res } = await attempt(mutate, shape)
      t.equal(res.status, 401, res.body)
      t.equal(JSON.parse(res.body).error.code, 'TOLLGATE_ERR_SSO_LOGIN_FAILED')
      t.equal(failures.length, before + 1)
      t.match(failures.at(-1)?.reason, reason, 'rejected for the right reason')
      t.notOk(await gw.identity.findUserByEmail('evil@example.com'), 'the attacker identity was never provisioned')
    })
  }

  await t.test('rejected: every file of the public signature-wrapping corpus', async (t) => {
    const files = readdirSync(XSW_DIR).filter((f) => f.endsWith('.xml'))
    t.ok(files.length >= 5)
    for (const file of files) {
      const xml = readFileSync(new URL(file, XSW_DIR), 'utf8')
      const cert = /<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(xml)?.[1] as string
      // Through the gateway: a connection trusting the corpus's own certificate, a real sign-in state.
      await api(gw, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'saml', saml: { idpEntityId: 'urn:mace:example.com:saml:roland:idp', idpSsoUrl: idp.ssoUrl, idpCertificates: [cert] } })
      const browser = new Browser(gw.app, GATEWAY)
      const start = await browser.request('GET', `${GATEWAY}/sso/saml/${org}/login`)
      const relay = new URL(String(start.headers.location)).searchParams.get('RelayState') as string
      const res = await post(browser, `${GATEWAY}/sso/saml/${org}/acs`, b64(xml), relay)
      t.equal(res.status, 401, `${file} through the ACS`)
      // Directly, with every check that is not about signatures switched off (time, InResponseTo,
      // audience): the wrapping alone must fail, so the rejection above is not an accident of dates.
      const sp = new SAML({
        callbackUrl: 'https://example.org/acs/post',
        issuer: 'urn:mace:example.com:saml:roland:sp',
        idpCert: cert,
        audience: false,
        wantAssertionsSigned: true,
        wantAuthnResponseSigned: false,
        validateInResponseTo: ValidateInResponseTo.never,
        acceptedClockSkewMs: -1,
      })
      await t.rejects(sp.validatePostResponseAsync({ SAMLResponse: b64(xml) }), /signature|assertion/i, `${file}: signature wrapping detected`)
    }
    await api(gw, 'PUT', `/sso/organizations/${org}/connection`, { protocol: 'saml', saml: { idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl, idpCertificates: [IDP_CERT] } })
  })

  await t.test('a response posted to another organization\'s ACS is refused', async (t) => {
    const other = await gw.identity.createOrganization({ name: 'Other', ownerUserId: gw.userId })
    const key = await gw.identity.createApiKey({ organizationId: other.id, projectId: other.defaultProjectId, ownerUserId: gw.userId, name: 'o' })
    await api(gw, 'PUT', `/sso/organizations/${other.id}/connection`, { protocol: 'saml', saml: { idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl, idpCertificates: [IDP_CERT] } }, { authorization: `Bearer ${key.secret}` })
    const browser = new Browser(gw.app, GATEWAY)
    const form = await idpForm(browser)
    const res = await post(browser, `${GATEWAY}/sso/saml/${other.id}/acs`, form.fields.SAMLResponse, form.fields.RelayState)
    t.equal(res.status, 401)
  })
})
