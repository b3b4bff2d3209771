import { type AuditEntry, type Checkpoint, entryFromJson, entryHash, entryToJson, loadPublicKey, keyIdOf, verifyExport } from '@tollgate/plugin-audit'
import type { TxEntityManager } from '@tollgate/core'
import t from 'tap'
import { auditGateway } from './support.js'

/** A seeded pseudo-random generator, so a failure reproduces (TAMPER_SEED=… to vary). */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const ENTRIES = 150
const CHECKPOINT_EVERY = 25
const TAMPERINGS = 1000

// Long by design (a must-show load): raise the runner's per-file timeout for this file.
t.setTimeout(900_000)

class Rollback extends Error {}

/** Changes one character of a string to a different one (a byte flip as text columns allow). */
function flipChar(s: string, r: () => number): string {
  // By code point, so an emoji is replaced whole (a lone surrogate is not valid text).
  const chars = Array.from(s)
  if (chars.length === 0) return 'x'
  const i = Math.floor(r() * chars.length)
  const alphabet = /^[0-9a-f]+$/.test(s) ? '0123456789abcdef' : 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789é'
  let c = chars[i]
  while (c === chars[i]) c = alphabet[Math.floor(r() * alphabet.length)]
  chars[i] = c
  return chars.join('')
}

/** Flips a character of a random string leaf of a JSON value (adds a key when it has none). */
function flipJson(v: unknown, r: () => number): unknown {
  const leaves: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = []
  const walk = (x: unknown) => {
    if (Array.isArray(x)) {
      for (const [i, c] of x.entries()) {
        if (typeof c === 'string') leaves.push({ parent: x, key: i })
        else walk(c)
      }
    } else if (x && typeof x === 'object') {
      for (const [k, c] of Object.entries(x)) {
        if (typeof c === 'string') leaves.push({ parent: x as Record<string, unknown>, key: k })
        else walk(c)
      }
    }
  }
  const copy = structuredClone(v ?? {}) as Record<string, unknown>
  walk(copy)
  if (leaves.length === 0) return { ...copy, injected: true }
  const leaf = leaves[Math.floor(r() * leaves.length)]
  ;(leaf.parent as Record<string, unknown>)[leaf.key as string] = flipChar(String((leaf.parent as Record<string, unknown>)[leaf.key as string]), r)
  return copy
}

const FLIP_COLUMNS = ['event', 'actor_type', 'actor_id', 'action', 'resource_type', 'resource_id', 'ip', 'user_agent', 'prev_hash', 'hash', 'diff', 'details', 'occurred_at', 'id'] as const

t.test(`${TAMPERINGS} random tamperings of the database are all detected, each naming the first bad entry`, async (t) => {
  const { gw, audit, keys } = await auditGateway(t)
  const org = gw.organizationId
  const existing = (await audit.verify(org)).lastGoodSeq
  const checkpoints: Checkpoint[] = []
  for (let i = existing + 1; i <= ENTRIES; i++) {
    await audit.record({
      organizationId: org,
      event: 'test.changed',
      actor: { type: i % 3 === 0 ? 'api_key' : 'user', id: `actor-${i % 7}` },
      action: `test.action_${i % 5}`,
      resourceType: 'settings',
      resourceId: `res-${i}`,
      diff: { before: { name: `Cafe\u0301 ${i}`, n: i }, after: { name: `Café ${i + 1}`, tags: ['a', 'ü', '🚀'], nested: { deep: `v${i}` } } },
      details: i % 2 ? { note: `entry ${i}` } : null,
      ip: `10.0.0.${i % 250}`,
      userAgent: i % 4 ? 'agent/1' : null,
    })
    if (i % CHECKPOINT_EVERY === 0) checkpoints.push((await audit.checkpoint(org)) as Checkpoint)
  }
  const clean = await audit.verify(org, { checkpoints })
  t.equal(clean.intact, true, 'the untouched chain verifies')
  t.equal(clean.lastGoodSeq, ENTRIES)
  const exported = await gw.app.inject({ method: 'GET', url: `/audit/organizations/${org}/entries/export?format=json`, headers: { authorization: `Bearer ${gw.apiKey}` } })
  const copy: AuditEntry[] = (exported.json() as Record<string, unknown>[]).map(entryFromJson)
  const reference = new Map(copy.map((e) => [e.seq, e.hash]))

  const r = rng(Number(process.env.TAMPER_SEED ?? 20261122))
  const counts: Record<string, number> = {}
  const misses: string[] = []
  for (let n = 0; n < TAMPERINGS; n++) {
    const kinds = ['flip', 'flip', 'flip', 'delete', 'swap', 'truncate', 'rewrite'] as const
    const kind = kinds[Math.floor(r() * kinds.length)]
    const k = 1 + Math.floor(r() * ENTRIES)
    let expected = k
    let detail = ''
    try {
      await gw.db.orm.em.fork().transactional(async (tx: TxEntityManager) => {
        // Superuser tampering: triggers off for this transaction only, rolled back after the check.
        await tx.execute('set local session_replication_role = replica', [], 'run')
        const sql = (text: string, params: unknown[] = []) => tx.execute<any[]>(text, params, 'all')
        if (kind === 'flip') {
          const col = FLIP_COLUMNS[Math.floor(r() * FLIP_COLUMNS.length)]
          detail = col
          const [row] = await sql(`select ${col}::text as v from audit_entry where organization_id = ? and seq = ?`, [org, k])
          let value: string | null
          if (col === 'diff' || col === 'details') value = JSON.stringify(flipJson(row.v === null ? null : JSON.parse(row.v), r))
          else if (col === 'occurred_at') value = new Date(new Date(row.v).getTime() + 1 + Math.floor(r() * 1000)).toISOString()
          else if (col === 'id') value = flipChar(String(row.v).replaceAll('-', ''), r).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')
          else value = row.v === null ? 'injected' : flipChar(row.v, r)
          await sql(`update audit_entry set ${col} = ?${col === 'diff' || col === 'details' ? '::jsonb' : col === 'occurred_at' ? '::timestamptz' : col === 'id' ? '::uuid' : ''} where organization_id = ? and seq = ?`, [value, org, k])
        } else if (kind === 'delete') {
          await sql('delete from audit_entry where organization_id = ? and seq = ?', [org, k])
        } else if (kind === 'swap') {
          // Two entries exchange what they say (actor, action, resource, diff): the order of events is forged.
          let j = 1 + Math.floor(r() * ENTRIES)
          while (j === k) j = 1 + Math.floor(r() * ENTRIES)
          expected = Math.min(j, k)
          await sql(
            `update audit_entry a set actor_id = b.actor_id, action = b.action, resource_id = b.resource_id, diff = b.diff
               from audit_entry b where a.organization_id = ? and b.organization_id = a.organization_id
                and ((a.seq = ? and b.seq = ?) or (a.seq = ? and b.seq = ?))`,
            [org, j, k, k, j],
          )
        } else if (kind === 'truncate') {
          await sql('delete from audit_entry where organization_id = ? and seq >= ?', [org, k])
        } else {
          // Rewrite from k on with every hash recomputed and the head moved: only a checkpoint or a copy catches it.
          const rows = await sql("select id, organization_id, seq, occurred_at, event, actor_type, actor_id, action, resource_type, resource_id, diff, details, ip, user_agent, prev_hash, hash from audit_entry where organization_id = ? and seq >= ? order by seq", [org, k])
          let prev = (await sql('select hash from audit_entry where organization_id = ? and seq = ?', [org, k - 1]))[0]?.hash ?? '0'.repeat(64)
          const rewritten: { id: string; action: string; prev_hash: string; hash: string }[] = []
          for (const row of rows) {
            const e = entryFromJson({ id: row.id, organizationId: row.organization_id, seq: row.seq, occurredAt: new Date(row.occurred_at).toISOString(), event: row.event, actor: { type: row.actor_type, id: row.actor_id }, action: row.action, resourceType: row.resource_type, resourceId: row.resource_id, diff: row.diff, details: row.details, ip: row.ip, userAgent: row.user_agent, prevHash: prev, hash: '' })
            if (Number(row.seq) === k) e.action = 'test.forged'
            const hash = entryHash(e)
            rewritten.push({ id: row.id, action: e.action, prev_hash: prev, hash })
            prev = hash
          }
          // One statement for the whole rewrite; the forger also deletes the stored checkpoints that would betray them.
          await sql(
            `update audit_entry a set action = r.action, prev_hash = r.prev_hash, hash = r.hash
               from jsonb_to_recordset(?::jsonb) as r(id uuid, action text, prev_hash text, hash text) where a.id = r.id`,
            [JSON.stringify(rewritten)],
          )
          await sql('delete from audit_checkpoint where organization_id = ? and seq >= ?', [org, k])
          await sql('update audit_chain_head set hash = ? where organization_id = ?', [prev, org])
        }
        const withCheckpoints = await audit.verify(org, { em: tx, checkpoints })
        if (kind === 'rewrite') {
          const report = await audit.verify(org, { em: tx })
          const withCopy = await audit.verify(org, { em: tx, reference })
          // In the database alone the rewritten chain is self-consistent; the exported checkpoint after
          // k catches it (naming the first entry after the last checkpoint that still matched), the copy names k.
          const cp = withCheckpoints.firstBad
          if (report.intact !== true) misses.push(`#${n} rewrite@${k}: with its checkpoints deleted, a rewrite looks self-consistent in the database alone`)
          if (cp?.reason !== 'checkpoint_mismatch' || cp.seq > k || cp.seq <= k - CHECKPOINT_EVERY) misses.push(`#${n} rewrite@${k}: checkpoints gave ${JSON.stringify(cp)}`)
          if (withCopy.firstBad?.seq !== k) misses.push(`#${n} rewrite@${k}: copy gave ${JSON.stringify(withCopy.firstBad)}`)
        } else if (withCheckpoints.firstBad?.seq !== expected) {
          misses.push(`#${n} ${kind}${detail ? `(${detail})` : ''}@${k}: expected ${expected}, got ${JSON.stringify(withCheckpoints.firstBad)}`)
        }
        throw new Rollback()
      })
    } catch (err) {
      if (!(err instanceof Rollback)) throw err
    }
    counts[kind] = (counts[kind] ?? 0) + 1
  }
  t.same(misses, [], 'every tampering detected at the right entry')
  t.ok(Object.keys(counts).length === 5, `all kinds exercised: ${JSON.stringify(counts)}`)
  t.equal((await audit.verify(org, { checkpoints })).intact, true, 'the rolled-back tamperings left the chain intact')

  // The same on an exported copy, offline: flips, deletions, swaps, truncations of the JSON file.
  const publicKey = loadPublicKey(keys.publicKey)
  const publicKeys = new Map([[keyIdOf(publicKey), publicKey]])
  t.equal(verifyExport(copy, { checkpoints, publicKeys }).intact, true, 'the clean export verifies offline')
  const copyMisses: string[] = []
  for (let n = 0; n < 200; n++) {
    const kinds = ['flip', 'delete', 'swap', 'truncate'] as const
    const kind = kinds[Math.floor(r() * kinds.length)]
    const json = copy.map((e) => entryToJson(e))
    const k = 1 + Math.floor(r() * ENTRIES)
    let expected = k
    if (kind === 'flip') {
      const fields = ['action', 'resourceId', 'hash', 'prevHash', 'userAgent', 'event'] as const
      const f = fields[Math.floor(r() * fields.length)]
      json[k - 1][f] = flipChar(String(json[k - 1][f] ?? ''), r)
    } else if (kind === 'delete') json.splice(k - 1, 1)
    else if (kind === 'swap') {
      let j = 1 + Math.floor(r() * ENTRIES)
      while (j === k) j = 1 + Math.floor(r() * ENTRIES)
      ;[json[j - 1], json[k - 1]] = [json[k - 1], json[j - 1]]
      expected = Math.min(j, k)
    } else json.splice(k - 1)
    const report = verifyExport(json.map(entryFromJson), { checkpoints, publicKeys })
    const got = report.organizations[0]?.firstBad?.seq
    if (report.intact || got !== expected) copyMisses.push(`#${n} ${kind}@${k}: expected ${expected}, got ${got}`)
  }
  t.same(copyMisses, [], 'every tampering of an exported copy detected at the right entry')
})
