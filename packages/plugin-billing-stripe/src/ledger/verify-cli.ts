#!/usr/bin/env node
/** Entry point of `tollgate-billing-verify` (see runVerifyLedgerCli). */
import { runVerifyLedgerCli } from './verify-command.js'

process.exitCode = await runVerifyLedgerCli(process.argv.slice(2))
