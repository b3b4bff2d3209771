import type { PluginFactory, PluginInstance } from '@tollgate/core'
import type { BundledPluginId, PluginEntry } from './config/index.js'

/** How each bundled plugin is loaded: imported only when the config switches it on. */
const LOADERS: Record<BundledPluginId, () => Promise<PluginFactory<any>>> = {
  audit: async () => (await import('@tollgate/plugin-audit')).auditPlugin,
  guardrails: async () => (await import('@tollgate/plugin-guardrails')).guardrailsPlugin,
  billing: async () => (await import('@tollgate/plugin-billing-stripe')).billingPlugin,
  analytics: async () => (await import('@tollgate/plugin-analytics')).analyticsPlugin,
  sso: async () => (await import('@tollgate/plugin-sso')).ssoPlugin,
  dashboard: async () => (await import('@tollgate/dashboard')).dashboardPlugin,
}

/**
 * The plugin instances the config's `plugins` section switches on: `true` gives the plugin its
 * default config, an object is its config, `false` or absence leaves it out. Each plugin
 * validates its own config against its schema when the gateway starts.
 */
export async function bundledPlugins(entries: Partial<Record<BundledPluginId, PluginEntry>>): Promise<PluginInstance<any>[]> {
  const out: PluginInstance<any>[] = []
  for (const [id, entry] of Object.entries(entries) as [BundledPluginId, PluginEntry][]) {
    if (entry === false || entry === undefined) continue
    const factory = await LOADERS[id]()
    out.push(factory(entry === true ? {} : entry))
  }
  return out
}
