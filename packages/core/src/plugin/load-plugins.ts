import { TollgateError } from '../errors/tollgate-error.js'
import { createAjv, describeAjvErrors } from '../util/ajv.js'
import type { PluginDefinition, PluginInstance } from './define-plugin.js'

const ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/
const MIGRATION = (id: string) => new RegExp(`^${id}:\\d{4}_[a-z0-9_]+$`)

/** A plugin ready to register: its definition and its validated config (defaults applied). */
export interface ResolvedPlugin {
  definition: PluginDefinition<any>
  config: Record<string, unknown>
}

/**
 * Checks plugin definitions, validates their configs with ajv and orders them so every plugin
 * comes after its dependencies. Every failure is a startup error naming the plugin (and, for
 * config, the JSON path).
 */
export function resolvePlugins(instances: PluginInstance<any>[]): ResolvedPlugin[] {
  const byId = new Map<string, PluginInstance<any>>()
  for (const inst of instances) {
    const def = inst?.definition
    if (!def || typeof def.register !== 'function') throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', 'plugin: not a plugin instance (call the plugin with its config: myPlugin({...}))')
    if (!ID.test(def.id)) throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${def.id}": id must be kebab-case`)
    if (def.id === 'core') throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', 'plugin "core": the id is reserved')
    if (byId.has(def.id)) throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${def.id}" is registered twice`)
    for (const m of def.migrations ?? []) {
      if (!MIGRATION(def.id).test(m.name)) throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${def.id}": migration "${m.name}" must be named ${def.id}:<nnnn>_<what>`)
    }
    byId.set(def.id, inst)
  }
  for (const inst of instances) {
    for (const dep of inst.definition.dependencies ?? []) {
      if (!byId.has(dep)) {
        throw new TollgateError('TOLLGATE_ERR_PLUGIN_DEPENDENCY_MISSING', `plugin "${inst.definition.id}" depends on plugin "${dep}", which is not registered; add ${dep} to the gateway's plugins`)
      }
    }
  }
  const ordered: PluginInstance<any>[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (id: string, chain: string[]) => {
    const s = state.get(id)
    if (s === 'done') return
    if (s === 'visiting') throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugins depend on each other in a cycle: ${[...chain, id].join(' → ')}`)
    state.set(id, 'visiting')
    const inst = byId.get(id) as PluginInstance<any>
    for (const dep of inst.definition.dependencies ?? []) visit(dep, [...chain, id])
    state.set(id, 'done')
    ordered.push(inst)
  }
  for (const inst of instances) visit(inst.definition.id, [])

  const ajv = createAjv()
  return ordered.map((inst) => {
    const def = inst.definition
    const config = structuredClone((inst.config ?? {}) as Record<string, unknown>)
    if (def.configSchema) {
      let validate: ReturnType<typeof ajv.compile>
      try {
        validate = ajv.compile(def.configSchema)
      } catch (err) {
        throw new TollgateError('TOLLGATE_ERR_PLUGIN_INVALID', `plugin "${def.id}": its configSchema does not compile: ${(err as Error).message}`)
      }
      if (!validate(config)) {
        const { path, message } = describeAjvErrors(validate.errors, 'config')
        throw new TollgateError('TOLLGATE_ERR_PLUGIN_CONFIG_INVALID', `plugin "${def.id}": ${message}`, { field: `plugins.${def.id}.${path}` })
      }
    }
    return { definition: def, config }
  })
}
