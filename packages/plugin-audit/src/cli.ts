#!/usr/bin/env node
// The `tollgate-audit` command (verify a trail in the database or an exported copy). All logic is in runAuditCli.
import { runAuditCli } from './cli/audit-cli.js'

const code = await runAuditCli(process.argv.slice(2))
process.exitCode = code
setTimeout(() => process.exit(code), 2000).unref()
