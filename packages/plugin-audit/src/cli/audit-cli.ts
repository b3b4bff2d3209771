import { readFile } from 'node:fs/promises'
import type { KeyObject } from 'node:crypto'
import { parseArgs } from 'node:util'
import { CORE_ENTITIES, openDatabase, type TxEntityManager } from '@tollgate/core'
import { entryFromJson } from '../trail/audit-entry.js'
import type { VerifyReport } from '../trail/chain-checker.js'
import { type Checkpoint, checkpointSignatureValid, keyIdOf, loadPublicKey } from '../trail/checkpoint-signer.js'
import { chainOrganizations, verifyChain } from '../trail/trail-store.js'
import { verifyExport } from '../trail/verify-export.js'

/** Where the CLI writes: its report (stdout) and its errors (stderr). */
export interface CliIo {
  out(text: string): void
  err(text: string): void
}

const USAGE = `Usage:
  tollgate-audit verify (--database-url URL | --data-dir DIR) [--organization ID]
                        --public-key FILE... [--checkpoints FILE] [--reference FILE]
  tollgate-audit verify-export FILE --public-key FILE... [--checkpoints FILE]

verify         checks the chains in the database (all organizations, or one) against their
               hashes, the stored checkpoints and, when given, exported checkpoints and an
               earlier JSON export (--reference) kept outside the database.
verify-export  checks an exported JSON copy of the trail offline.

--checkpoints takes a JSON array of checkpoints or the body of GET /audit/organizations/:id/checkpoints.
Exit status: 0 intact, 1 tampering found (the first bad entry is named), 2 usage or input error.`

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new UsageError(`${what} ${path}: ${(err as Error).message}`)
  }
}

class UsageError extends Error {}

async function loadKeys(paths: string[]): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>()
  for (const p of paths) {
    let text: string
    try {
      text = await readFile(p, 'utf8')
    } catch (err) {
      throw new UsageError(`--public-key ${p}: ${(err as Error).message}`)
    }
    try {
      const k = loadPublicKey(text.trim())
      keys.set(keyIdOf(k), k)
    } catch (err) {
      throw new UsageError(`--public-key ${p}: not an Ed25519 public key (${(err as Error).message})`)
    }
  }
  return keys
}

async function loadCheckpoints(path: string | undefined, keys: ReadonlyMap<string, KeyObject>): Promise<Checkpoint[]> {
  if (!path) return []
  const json = await readJson(path, '--checkpoints')
  const list = (Array.isArray(json) ? json : (json as { data?: unknown })?.data) as Checkpoint[] | undefined
  if (!Array.isArray(list)) throw new UsageError(`--checkpoints ${path}: expected a JSON array of checkpoints`)
  list.forEach((c, i) => {
    if (!checkpointSignatureValid(c, keys)) throw new UsageError(`--checkpoints ${path}: checkpoint [${i}] (entry ${c?.seq}) does not verify under the given public keys`)
  })
  return list
}

function describe(r: VerifyReport): string {
  return r.intact
    ? `${r.organizationId}: intact (${r.checkedEntries} entries, ${r.checkpoints.checked} checkpoints)`
    : `${r.organizationId}: TAMPERED at entry ${r.firstBad?.seq}${r.firstBad?.entryId ? ` (${r.firstBad.entryId})` : ''}: ${r.firstBad?.reason}: ${r.firstBad?.message}`
}

/** Runs the `tollgate-audit` command; returns the exit status. */
export async function runAuditCli(argv: string[], io: CliIo = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) }): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'database-url': { type: 'string' },
        'data-dir': { type: 'string' },
        organization: { type: 'string' },
        'public-key': { type: 'string', multiple: true },
        checkpoints: { type: 'string' },
        reference: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    const [command, file] = positionals
    if (values.help || !command) {
      io.out(USAGE)
      return values.help ? 0 : 2
    }
    const keys = await loadKeys(values['public-key'] ?? [])
    const checkpoints = await loadCheckpoints(values.checkpoints, keys)
    let reports: VerifyReport[]
    if (command === 'verify-export') {
      if (!file) throw new UsageError('verify-export needs the exported JSON file')
      const json = await readJson(file, 'export')
      if (!Array.isArray(json)) throw new UsageError(`export ${file}: expected the JSON array of GET …/entries/export?format=json`)
      reports = verifyExport(json.map((j) => entryFromJson(j as Record<string, unknown>)), { checkpoints, publicKeys: keys }).organizations
    } else if (command === 'verify') {
      const url = values['database-url']
      const dataDir = values['data-dir']
      if (!url === !dataDir) throw new UsageError('verify needs exactly one of --database-url or --data-dir')
      const reference = values.reference ? new Map(((await readJson(values.reference, '--reference')) as { seq: number; hash: string }[]).map((e) => [Number(e.seq), e.hash])) : undefined
      // Core's entities only so the ORM starts; nothing is migrated or written.
      const db = await openDatabase(url ? { url, poolSize: 2 } : { dataDir }, CORE_ENTITIES, [])
      try {
        const em = db.orm.em.fork() as unknown as TxEntityManager
        const orgs = values.organization ? [values.organization] : await chainOrganizations(em)
        reports = []
        for (const org of orgs) reports.push(await verifyChain(em, org, { publicKeys: keys, checkpoints, reference }))
      } finally {
        await db.close()
      }
    } else {
      throw new UsageError(`unknown command "${command}"`)
    }
    if (values.json) io.out(JSON.stringify({ intact: reports.every((r) => r.intact), organizations: reports }, null, 2))
    else for (const r of reports) io.out(describe(r))
    return reports.every((r) => r.intact) ? 0 : 1
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`tollgate-audit: ${(err as Error).message}\n\n${USAGE}`)
      return 2
    }
    io.err(`tollgate-audit: ${(err as Error).message}`)
    return 2
  }
}
