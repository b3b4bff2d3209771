import type { MigrationObject } from '@mikro-orm/core'
import { CoreInit } from './core-0001-init.js'

/** Core's migrations, in order. Names are `core:<nnnn>_<what>` and never change once released. */
export const CORE_MIGRATIONS: MigrationObject[] = [{ name: 'core:0001_init', class: CoreInit }]
