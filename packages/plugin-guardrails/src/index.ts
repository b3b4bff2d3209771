import { definePlugin } from '@tollgate/core'

/** Options of the guardrails plugin. This release accepts none; its schema rejects unknown keys so a setting is never silently ignored. */
export type GuardrailsPluginConfig = Record<string, never>

/**
 * The guardrails plugin. Detects PII, secrets, jailbreak attempts and prompt leakage in requests and responses, with custom rules (block, warn or redact).
 *
 * This first release only reserves the plugin id `guardrails` and its place in the gateway's plugin
 * list: `register` adds no hooks, routes, tables or workers, so adding it changes nothing about
 * how requests are served. Later releases will scan prompts before the upstream call and stream chunks on the way back, and record violations.
 */
export const guardrailsPlugin = definePlugin<GuardrailsPluginConfig>({
  id: 'guardrails',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  register(host) {
    host.log.debug('guardrails plugin registered; this release adds no hooks or routes')
  },
})
