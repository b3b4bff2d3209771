/**
 * Sign-in latency (OIDC and SAML, median and p95) and SCIM list throughput over 10,000 users.
 *
 *   node --import ./test-support/tsx-register.mjs --conditions=tollgate-src packages/plugin-sso/bench/login-and-scim.ts [logins=40]
 *
 * Each figure is printed beside a baseline measured in the same run: for sign-ins, the identity
 * provider's own part of the flow (what any relying party pays); for SCIM, the raw SQL page
 * query the endpoint runs (what any implementation over this schema pays). PGlite by default,
 * PostgreSQL with DATABASE_URL.
 */
import { performance } from 'node:perf_hooks'
import { createTestGateway } from '@tollgate/core/testing'
import { ssoPlugin } from '../src/index.js'
import { Browser, formOf } from '../test/support/browser.js'
import { startOidcIdp } from '../test/support/oidc-idp.js'
import { IDP_CERT, startSamlIdp } from '../test/support/saml-idp.js'

const GATEWAY = 'https://gw.bench'
// 0 skips the sign-in runs (SCIM figures only).
const LOGINS = Number(process.argv[2] ?? 40)

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { median: q(0.5), p95: q(0.95) }
}
const f = (n: number) => n.toFixed(1)

const gw = await createTestGateway({ plugins: [ssoPlugin({ publicUrl: GATEWAY })] })
const org = gw.organizationId
const json = async (method: 'PUT' | 'POST', url: string, body?: unknown) => {
  const res = await gw.app.inject({ method, url, headers: { authorization: `Bearer ${gw.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, payload: body === undefined ? undefined : JSON.stringify(body) })
  if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return JSON.parse(res.body)
}

try {
  // OIDC
  const oidc = await startOidcIdp({
    clients: [{ client_id: 'bench', client_secret: 'bench-secret-0123456789abcdefghij', redirect_uris: [`${GATEWAY}/sso/oidc/${org}/callback`] }],
    users: { u1: { email: 'bench.oidc@example.com', name: 'Bench', groups: ['eng'] } },
  })
  await json('PUT', `/sso/organizations/${org}/connection`, { protocol: 'oidc', oidc: { issuer: oidc.issuer, clientId: 'bench', clientSecret: 'bench-secret-0123456789abcdefghij', allowInsecureHttp: true } })
  const full: number[] = []
  const idpOnly: number[] = []
  for (let i = 0; i < (LOGINS > 0 ? LOGINS + 3 : 0); i++) {
    const b = new Browser(gw.app, GATEWAY)
    const t0 = performance.now()
    const start = await b.request('GET', `${GATEWAY}/sso/oidc/${org}/login`)
    const t1 = performance.now()
    const atCallback = await b.follow(String(start.headers.location), { stopAt: (n) => n.startsWith(`${GATEWAY}/sso/oidc/`) })
    const t2 = performance.now()
    const done = await b.request('GET', new URL(String(atCallback.headers.location), atCallback.url).href)
    const t3 = performance.now()
    if (done.status !== 303) throw new Error(`oidc login failed: ${done.status} ${done.body}`)
    if (i >= 3) {
      full.push(t3 - t0)
      idpOnly.push(t2 - t1)
    }
  }
  await oidc.close()
  const o = stats(full)
  const oi = stats(idpOnly)
  if (LOGINS > 0) console.log(`OIDC sign-in (${LOGINS} runs): median ${f(o.median)} ms, p95 ${f(o.p95)} ms; IdP part alone median ${f(oi.median)} ms; gateway share of the median ${f(o.median - oi.median)} ms (ratio full/IdP ${(o.median / oi.median).toFixed(2)})`)

  // SAML (a fresh organization so the connection is SAML)
  const samlOrg = await gw.identity.createOrganization({ name: 'Bench SAML', ownerUserId: gw.userId })
  const samlKey = await gw.identity.createApiKey({ organizationId: samlOrg.id, projectId: samlOrg.defaultProjectId, ownerUserId: gw.userId, name: 'b' })
  const saml = await startSamlIdp(async () => (await gw.app.inject({ method: 'GET', url: `/sso/saml/${samlOrg.id}/metadata` })).body)
  await gw.app.inject({
    method: 'PUT',
    url: `/sso/organizations/${samlOrg.id}/connection`,
    headers: { authorization: `Bearer ${samlKey.secret}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ protocol: 'saml', saml: { idpEntityId: saml.entityId, idpSsoUrl: saml.ssoUrl, idpCertificates: [IDP_CERT] } }),
  })
  saml.next = { email: 'bench.saml@example.com', name: 'Bench', groups: ['eng'] }
  const sFull: number[] = []
  const sIdp: number[] = []
  for (let i = 0; i < (LOGINS > 0 ? LOGINS + 3 : 0); i++) {
    const b = new Browser(gw.app, GATEWAY)
    const t0 = performance.now()
    const start = await b.request('GET', `${GATEWAY}/sso/saml/${samlOrg.id}/login`)
    const t1 = performance.now()
    const page = await b.request('GET', String(start.headers.location))
    const t2 = performance.now()
    const form = formOf(page.body)
    const done = await b.request('POST', form.action, form.fields)
    const t3 = performance.now()
    if (done.status !== 303) throw new Error(`saml login failed: ${done.status} ${done.body}`)
    if (i >= 3) {
      sFull.push(t3 - t0)
      sIdp.push(t2 - t1)
    }
  }
  await saml.close()
  const s = stats(sFull)
  const si = stats(sIdp)
  if (LOGINS > 0) console.log(`SAML sign-in (${LOGINS} runs): median ${f(s.median)} ms, p95 ${f(s.p95)} ms; IdP part alone median ${f(si.median)} ms; gateway share of the median ${f(s.median - si.median)} ms (ratio full/IdP ${(s.median / si.median).toFixed(2)})`)

  // SCIM: 10,000 users written straight to the tables (provisioning each through SCIM would time the IdP side, not the list).
  const em = gw.db.orm.em.fork()
  await em.execute(
    `insert into core_user (id, email, name) select gen_random_uuid(), 'scim' || g || '@bench.example', 'User ' || g from generate_series(1, 10000) g`,
    [],
    'run',
  )
  await em.execute(
    `insert into sso_scim_user (id, organization_id, user_id, user_name, display_name, given_name, family_name, emails, created_at)
     select gen_random_uuid(), ?, u.id, u.email, u.name, 'Given', 'Family', jsonb_build_array(jsonb_build_object('value', u.email, 'type', 'work', 'primary', true)),
            now() + (row_number() over (order by u.email)) * interval '1 millisecond'
       from core_user u where u.email like '%@bench.example'`,
    [org],
    'run',
  )
  const token = (await json('POST', `/sso/organizations/${org}/scim-token`)).token as string
  const page = async (start: number, count: number, filter?: string) => {
    const res = await gw.app.inject({ method: 'GET', url: `/scim/v2/Users?startIndex=${start}&count=${count}${filter ? `&filter=${encodeURIComponent(filter)}` : ''}`, headers: { authorization: `Bearer ${token}` } })
    if (res.statusCode !== 200) throw new Error(res.body)
    return JSON.parse(res.body) as { totalResults: number; Resources: unknown[] }
  }
  await page(1, 100)
  for (const count of [100, 1000]) {
    let t0 = performance.now()
    let listed = 0
    for (let start = 1; start <= 10_000; start += count) listed += (await page(start, count)).Resources.length
    const http = performance.now() - t0
    t0 = performance.now()
    for (let start = 1; start <= 10_000; start += count) {
      await em.fork().execute('select count(*) from sso_scim_user u where u.organization_id = ?', [org], 'all')
      await em.fork().execute('select * from sso_scim_user u where u.organization_id = ? order by u.created_at, u.id limit ? offset ?', [org, count, start - 1], 'all')
    }
    const raw = performance.now() - t0
    console.log(`SCIM list, 10,000 users in pages of ${count}: ${listed} users in ${f(http)} ms = ${Math.round(listed / (http / 1000))} users/s (raw SQL of the same pages ${f(raw)} ms, ratio ${(http / raw).toFixed(2)})`)
  }
  for (const filter of ['userName eq "scim5000@bench.example"', 'userName co "999"', 'emails[type eq "work" and value sw "scim42"]']) {
    const times: number[] = []
    let total = 0
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      total = (await page(1, 100, filter)).totalResults
      times.push(performance.now() - t0)
    }
    const st = stats(times)
    console.log(`SCIM filter ${filter}: ${total} matches, median ${f(st.median)} ms, p95 ${f(st.p95)} ms`)
  }
} finally {
  await gw.close()
}
