import type { MigrationObject } from '@mikro-orm/core'
import { CoreInit } from './core-0001-init.js'
import { CoreRouting } from './core-0002-routing.js'
import { CoreModelOutputLimit } from './core-0003-model-output-limit.js'

/** Core's migrations, in order. Names are `core:<nnnn>_<what>` and never change once released. */
export const CORE_MIGRATIONS: MigrationObject[] = [
  { name: 'core:0001_init', class: CoreInit },
  { name: 'core:0002_routing', class: CoreRouting },
  { name: 'core:0003_model_output_limit', class: CoreModelOutputLimit },
]
