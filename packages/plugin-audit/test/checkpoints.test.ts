import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalJson, type Checkpoint, entryFromJson, entryHash, loadPrivateKey, runAuditCli } from '@tollgate/plugin-audit'
import { createTestGateway } from '@tollgate/core/testing'
import { auditPlugin } from '@tollgate/plugin-audit'
import t from 'tap'
import { auditGateway, bearer, ed25519Pem, platformAdminKey } from './support.js'

/** Captures the CLI's output. */
function io() {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) } }
}

t.test('signed checkpoints: exported, verifiable outside, and they catch a rewrite the database alone cannot', async (t) => {
  const { gw, em } = await auditGateway(t)
  const org = gw.organizationId
  const inject = (method: 'GET' | 'POST', url: string, payload?: object) => gw.app.inject({ method, url, headers: bearer(gw.apiKey), payload })
  for (let i = 0; i < 10; i++) await gw.identity.createProject({ organizationId: org, name: `before ${i}` })
  const signed = await inject('POST', `/audit/organizations/${org}/checkpoints`)
  t.equal(signed.statusCode, 201)
  const checkpoint = signed.json() as Checkpoint
  const exported = await inject('GET', `/audit/organizations/${org}/checkpoints`)
  const { data, publicKeys } = exported.json() as { data: Checkpoint[]; publicKeys: { keyId: string; publicKey: string }[] }
  t.same(data, [checkpoint], 'the checkpoint is stored and exported')
  // Anyone can check the signature with the exported public key and node:crypto alone.
  const { signature, ...body } = checkpoint
  const pub = createPublicKey(publicKeys.find((k) => k.keyId === checkpoint.keyId)?.publicKey ?? '')
  t.ok(verify(null, Buffer.from(canonicalJson(body)), pub, Buffer.from(signature, 'base64')), 'the signature verifies independently')
  t.equal((await inject('POST', `/audit/organizations/${org}/checkpoints`)).json().seq, checkpoint.seq, 'no new checkpoint when the head has not moved')

  const copy = (await inject('GET', `/audit/organizations/${org}/entries/export?format=json`)).json() as { seq: number; hash: string }[]
  for (let i = 0; i < 5; i++) await gw.identity.createProject({ organizationId: org, name: `after ${i}` })
  t.equal((await inject('GET', `/audit/organizations/${org}/verify`)).json().intact, true)

  // A superuser rewrites the chain from entry k (every hash recomputed, head moved) and deletes the stored checkpoints.
  const k = 6
  await em().transactional(async (tx) => {
    await tx.execute('set local session_replication_role = replica', [], 'run')
    const rows = await tx.execute<any[]>('select * from audit_entry where organization_id = ? and seq >= ? order by seq', [org, k], 'all')
    let prev = (await tx.execute<{ hash: string }[]>('select hash from audit_entry where organization_id = ? and seq = ?', [org, k - 1], 'all'))[0].hash
    for (const r of rows) {
      const e = entryFromJson({ id: r.id, organizationId: r.organization_id, seq: r.seq, occurredAt: new Date(r.occurred_at).toISOString(), event: r.event, actor: { type: r.actor_type, id: r.actor_id }, action: Number(r.seq) === k ? 'project.forged' : r.action, resourceType: r.resource_type, resourceId: r.resource_id, diff: r.diff, details: r.details, ip: r.ip, userAgent: r.user_agent, prevHash: prev, hash: '' })
      const hash = entryHash(e)
      await tx.execute('update audit_entry set action = ?, prev_hash = ?, hash = ? where id = ?', [e.action, prev, hash, r.id], 'run')
      prev = hash
    }
    await tx.execute('update audit_chain_head set hash = ? where organization_id = ?', [prev, org], 'run')
    await tx.execute('delete from audit_checkpoint where organization_id = ?', [org], 'run')
  })
  t.equal((await inject('GET', `/audit/organizations/${org}/verify`)).json().intact, true, 'the database alone looks consistent')
  const caught = (await inject('POST', `/audit/organizations/${org}/verify`, { checkpoints: data })).json()
  t.match(caught, { intact: false, firstBad: { reason: 'checkpoint_mismatch', seq: 1 } }, 'the exported checkpoint catches the rewrite (somewhere at or before it)')
  t.match(caught.firstBad.message, new RegExp(`checkpoint signed at entry ${checkpoint.seq}`))
  const exact = (await inject('POST', `/audit/organizations/${org}/verify`, { reference: copy })).json()
  t.match(exact, { intact: false, firstBad: { reason: 'reference_mismatch', seq: k } }, 'an earlier export names the first rewritten entry exactly')

  const forged = { ...checkpoint, hash: 'f'.repeat(64) }
  const refused = await inject('POST', `/audit/organizations/${org}/verify`, { checkpoints: [forged] })
  t.equal(refused.statusCode, 400)
  t.match(refused.json().error, { code: 'TOLLGATE_ERR_AUDIT_CHECKPOINT_INVALID', field: 'checkpoints[0]' }, 'a checkpoint that does not verify is refused, not trusted')

  // The CLI says the same, from files kept outside the database.
  const dir = await mkdtemp(join(tmpdir(), 'audit-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'key.pem'), publicKeys[0].publicKey)
  await writeFile(join(dir, 'checkpoints.json'), JSON.stringify({ data }))
  await writeFile(join(dir, 'copy.json'), JSON.stringify(copy))
  const dbArgs = gw.testDb.options.url ? ['--database-url', gw.testDb.options.url] : undefined
  if (dbArgs) {
    const c = io()
    t.equal(await runAuditCli(['verify', ...dbArgs, '--organization', org, '--public-key', join(dir, 'key.pem'), '--checkpoints', join(dir, 'checkpoints.json')], c.io), 1, `CLI: tampering → exit 1 ${c.err.join(' ')}`)
    t.match(c.out.join('\n'), /TAMPERED at entry 1\b.*checkpoint_mismatch/)
    const r = io()
    t.equal(await runAuditCli(['verify', ...dbArgs, '--organization', org, '--public-key', join(dir, 'key.pem'), '--reference', join(dir, 'copy.json')], r.io), 1)
    t.match(r.out.join('\n'), new RegExp(`TAMPERED at entry ${k}\\b.*reference_mismatch`))
  }
  const e = io()
  t.equal(await runAuditCli(['verify-export', join(dir, 'copy.json'), '--public-key', join(dir, 'key.pem'), '--checkpoints', join(dir, 'checkpoints.json')], e.io), 0, 'CLI: the exported copy itself is intact')
  t.match(e.out.join('\n'), /intact \(\d+ entries, 1 checkpoints\)/)
  const u = io()
  t.equal(await runAuditCli(['verify', '--public-key', join(dir, 'key.pem')], u.io), 2, 'CLI: usage error → exit 2')
  t.match(u.err.join('\n'), /exactly one of --database-url or --data-dir/)
})

t.test('a truncated chain is caught by the exported checkpoint even when the head row was rewound', async (t) => {
  const { gw, em, audit } = await auditGateway(t)
  const org = gw.organizationId
  for (let i = 0; i < 4; i++) await gw.identity.createProject({ organizationId: org, name: `x${i}` })
  const cp = (await audit.checkpoint(org)) as Checkpoint
  await em().transactional(async (tx) => {
    await tx.execute('set local session_replication_role = replica', [], 'run')
    await tx.execute('delete from audit_entry where organization_id = ? and seq >= ?', [org, cp.seq - 2], 'run')
    await tx.execute('update audit_chain_head set seq = ?, hash = (select hash from audit_entry where organization_id = ? and seq = ?) where organization_id = ?', [cp.seq - 3, org, cp.seq - 3, org], 'run')
    await tx.execute('delete from audit_checkpoint where organization_id = ?', [org], 'run')
  })
  t.equal((await audit.verify(org)).intact, true, 'the database alone looks consistent')
  t.match(await audit.verify(org, { checkpoints: [cp] }), { intact: false, firstBad: { reason: 'truncated', seq: cp.seq - 2 } })
})

t.test('checkpoint worker signs every head that moved; platform admins verify every chain', async (t) => {
  const { gw, em } = await auditGateway(t)
  const other = await gw.identity.createOrganization({ name: 'Other', ownerUserId: gw.userId })
  await gw.workers.runOnce('audit.checkpoints')
  const rows = await em().execute<{ organization_id: string; seq: string }[]>('select organization_id, seq from audit_checkpoint', [], 'all')
  const orgs = new Set(rows.map((r) => r.organization_id))
  t.ok(orgs.has(gw.organizationId) && orgs.has(other.id), 'one checkpoint per organization')
  await gw.workers.runOnce('audit.checkpoints')
  t.equal((await em().execute<unknown[]>('select 1 from audit_checkpoint', [], 'all')).length, rows.length, 'nothing new when no head moved')

  const padmin = await platformAdminKey(gw)
  const all = await gw.app.inject({ method: 'GET', url: '/audit/verify', headers: bearer(padmin) })
  t.equal(all.statusCode, 200)
  t.equal(all.json().intact, true)
  t.ok(all.json().organizations.length >= 3)
  t.equal((await gw.app.inject({ method: 'GET', url: '/audit/verify', headers: bearer(gw.apiKey) })).statusCode, 403)
})

t.setTimeout(600_000)

t.test('keys: rotation keeps old checkpoints verifiable; bad keys fail at startup naming the field', async (t) => {
  const old = ed25519Pem()
  const first = await auditGateway(t, { config: { checkpoints: { privateKey: old.privateKey } } })
  const cp = (await first.audit.checkpoint(first.gw.organizationId)) as Checkpoint
  // A second gateway with a new key and the old public key listed accepts the old checkpoint.
  const rotated = ed25519Pem()
  const second = await auditGateway(t, { config: { checkpoints: { privateKey: rotated.privateKey, publicKeys: [old.publicKey] } } })
  const copyOrg = { ...cp, organizationId: second.gw.organizationId }
  const res = await second.gw.app.inject({ method: 'POST', url: `/audit/organizations/${second.gw.organizationId}/verify`, headers: bearer(second.gw.apiKey), payload: { checkpoints: [cp] } })
  t.equal(res.statusCode, 200, 'a checkpoint signed with the retired key is accepted as input')
  const foreign = await second.gw.app.inject({ method: 'POST', url: `/audit/organizations/${second.gw.organizationId}/verify`, headers: bearer(second.gw.apiKey), payload: { checkpoints: [copyOrg] } })
  t.equal(foreign.statusCode, 400, 'changing any signed field breaks the signature')

  await t.rejects(createTestGateway({ plugins: [auditPlugin({ checkpoints: { privateKey: 'not a key at all, but long enough to pass the schema check' } })] }), {
    code: 'TOLLGATE_ERR_PLUGIN_CONFIG_INVALID',
    field: 'plugins.audit.checkpoints.privateKey',
  })
  t.throws(() => loadPrivateKey(old.publicKey), 'a public key where the private one belongs')
  t.throws(() => loadPrivateKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()), /not ed25519/, 'a key of another algorithm')
  await t.rejects(createTestGateway({ plugins: [auditPlugin({ retention: { windowDays: 0 } })] }), { code: 'TOLLGATE_ERR_PLUGIN_CONFIG_INVALID', message: /windowDays/ })
  await t.rejects(createTestGateway({ plugins: [auditPlugin({ retentionDays: 30 })] }), { code: 'TOLLGATE_ERR_PLUGIN_CONFIG_INVALID' }, 'an unknown setting is an error, not ignored')

  const keyless = await createTestGateway({ plugins: [auditPlugin()] })
  t.teardown(() => keyless.close())
  const disabled = await keyless.app.inject({ method: 'POST', url: `/audit/organizations/${keyless.organizationId}/checkpoints`, headers: bearer(keyless.apiKey) })
  t.equal(disabled.statusCode, 409)
  t.equal(disabled.json().error.code, 'TOLLGATE_ERR_AUDIT_CHECKPOINTS_DISABLED')
  t.equal((await keyless.app.inject({ method: 'GET', url: `/audit/organizations/${keyless.organizationId}/verify`, headers: bearer(keyless.apiKey) })).json().intact, true, 'the chain is still verified without a key')
})
