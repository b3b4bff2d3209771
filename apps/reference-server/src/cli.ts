#!/usr/bin/env node
// The `tollgate` command. Everything lives in runCli; this file only runs it and exits.
import { runCli } from './cli/run-cli.js'

const code = await runCli(process.argv.slice(2))
process.exitCode = code
// A library that keeps a handle open must not keep a finished command alive.
setTimeout(() => process.exit(code), 2000).unref()
