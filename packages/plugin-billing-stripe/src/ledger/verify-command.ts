import { CORE_ENTITIES, type DatabaseOptions, openDatabase } from '@tollgate/core'
import type { LedgerAccountRef, LedgerVerification } from './ledger-types.js'
import { verificationJson } from './ledger-routes.js'
import { SqlLedger } from './sql-ledger.js'

/** Opens a gateway database (PostgreSQL URL or PGlite folder), checks balance == sum(entries) for every account (or one), and closes it. */
export async function verifyLedger(database: DatabaseOptions, account?: LedgerAccountRef): Promise<LedgerVerification> {
  const db = await openDatabase({ ...database, migrate: false }, CORE_ENTITIES, [])
  try {
    return await new SqlLedger(db).verify(account)
  } finally {
    await db.close()
  }
}

/**
 * The `tollgate-billing-verify` command: `--database-url <url>` (or DATABASE_URL) or
 * `--data-dir <pglite folder>`, optionally `--organization <id> [--user <id>]`. Prints the result
 * as JSON; exit code 0 when every balance equals the sum of its entries, 1 when not, 2 on bad usage.
 */
export async function runVerifyLedgerCli(argv: string[], env: Record<string, string | undefined> = process.env, out: (line: string) => void = console.log): Promise<number> {
  const args = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]
    const value = argv[i + 1]
    if (!name?.startsWith('--') || value === undefined) {
      out('usage: tollgate-billing-verify (--database-url <url> | --data-dir <dir>) [--organization <id> [--user <id>]]')
      return 2
    }
    args.set(name.slice(2), value)
  }
  const url = args.get('database-url') ?? (args.has('data-dir') ? undefined : env.DATABASE_URL)
  const dataDir = args.get('data-dir')
  if (!url && !dataDir) {
    out('tollgate-billing-verify: give --database-url, --data-dir or DATABASE_URL')
    return 2
  }
  const organizationId = args.get('organization')
  const userId = args.get('user')
  const result = await verifyLedger(url ? { url } : { dataDir }, organizationId ? { organizationId, ...(userId ? { userId } : {}) } : undefined)
  out(JSON.stringify(verificationJson(result)))
  return result.ok ? 0 : 1
}
