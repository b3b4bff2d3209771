import { definePlugin } from '@tollgate/core'

/** Options of the audit plugin. This release accepts none; its schema rejects unknown keys so a setting is never silently ignored. */
export type AuditPluginConfig = Record<string, never>

/**
 * The audit plugin. A tamper-evident audit trail of management actions, a metadata-only request log, retention and CSV/JSON export.
 *
 * This first release only reserves the plugin id `audit` and its place in the gateway's plugin
 * list: `register` adds no hooks, routes, tables or workers, so adding it changes nothing about
 * how requests are served. Later releases will record domain events in a hash-chained trail and export it.
 */
export const auditPlugin = definePlugin<AuditPluginConfig>({
  id: 'audit',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  register(host) {
    host.log.debug('audit plugin registered; this release adds no hooks or routes')
  },
})
