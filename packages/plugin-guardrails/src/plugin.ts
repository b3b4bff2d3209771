import { CoreServices, definePlugin } from '@tollgate/core'
import type { GuardrailsPluginConfig } from './config.js'
import { GUARDRAILS_MIGRATIONS } from './data/migrations.js'
import { configSchema } from './engine/policy-schema.js'
import { ScanCache } from './engine/scan-cache.js'
import { type PolicyInput, validatePolicy } from './engine/validate-policy.js'
import './errors.js'
import './events.js'
import { createBeforeUpstream, createOnResponse, createOnResponseChunk, GUARDRAILS_STATE } from './hooks/request-hooks.js'
import { registerPolicyRoutes } from './routes/policy-routes.js'
import { GuardrailsExtensions, type GuardrailRule } from './rules/rule.js'
import { systemRules } from './rules/system-rules.js'
import { PolicyStore } from './store/policy-store.js'
import { ViolationWriter } from './store/violation-recorder.js'

const CATEGORIES = new Set(['pii', 'secret', 'injection', 'file', 'document', 'custom'])

/**
 * The guardrails plugin: PII, secrets, prompt injection, file and document leakage, and custom
 * rules (blocked terms, regexes on a linear-time engine, topics), each with block, warn or redact;
 * on every prompt message and on answers, streamed or not. Policies: config defaults, then
 * per organization and per project through /v1/guardrails. Violations: table, events, metrics.
 */
export const guardrailsPlugin = definePlugin<GuardrailsPluginConfig>({
  id: 'guardrails',
  configSchema,
  migrations: GUARDRAILS_MIGRATIONS,
  register(host, config) {
    let extensions: readonly GuardrailRule[] = []
    const options = { phoneRegions: config.phoneRegions, injectionThreshold: config.defaults?.injectionThreshold }
    const known = () => {
      const ids = new Set([...systemRules(options), ...extensions].map((r) => r.id))
      for (const r of extensions) CATEGORIES.add(r.category)
      return { rules: ids, categories: CATEGORIES }
    }
    const policies = new PolicyStore({ db: host.db, events: host.events, options, extensions: () => extensions })
    const violations = host.metrics.counter({
      name: 'tollgate_guardrails_violations_total',
      help: 'Guardrail rule matches, by rule, action (block, warn, redact) and direction (input, output).',
      labelNames: ['rule', 'action', 'direction'] as const,
    })
    const deps = { policies, violations, maxStreamHold: config.maxStreamHold ?? 32_768, scanCache: new ScanCache(config.scanCacheEntries ?? 4096) }

    host.hooks.add('beforeUpstream', createBeforeUpstream(deps))
    host.hooks.add('onResponse', createOnResponse(deps))
    host.hooks.add('onResponseChunk', createOnResponseChunk(deps))
    // Violations are handed to a batching writer when the request ends: no database write per request.
    const writer = new ViolationWriter({ db: host.db, events: host.events, log: host.log, intervalMs: config.violationFlushMs })
    host.hooks.add('onComplete', async (ctx) => {
      const s = ctx.state.get(GUARDRAILS_STATE)
      if (!s || s.violations.counts.size === 0 || !ctx.principal) return
      writer.add({ requestId: ctx.id, organizationId: ctx.principal.organizationId, projectId: ctx.principal.projectId, apiKeyId: ctx.principal.apiKeyId, ip: ctx.client.ip, userAgent: ctx.client.userAgent }, s.violations)
    })

    let timer: NodeJS.Timeout | undefined
    host.hooks.add('onReady', async () => {
      // Extension rules are read once every plugin has registered.
      extensions = host.services.extensions(GuardrailsExtensions.rules)
      // Defaults may name extension rules, so they are checked once those are known.
      if (config.defaults) policies.setDefaults(validatePolicy(config.defaults as PolicyInput, known().rules, CATEGORIES, 'config.defaults.'))
      await policies.reload()
      const every = config.policyRefreshMs ?? 10_000
      if (every > 0) {
        timer = setInterval(() => void policies.reload().catch((err) => host.log.error({ err }, 'guardrails: policy reload failed')), every)
        timer.unref()
      }
    })
    host.hooks.add('onClose', async () => {
      if (timer) clearInterval(timer)
      await writer.close()
    })

    host.routes('/v1/guardrails', (app) =>
      registerPolicyRoutes(app, {
        identity: host.services.get(CoreServices.identity),
        policies,
        db: host.db,
        knownRules: known,
        listRules: () => policies.defaultRules.rules,
      }),
    )
  },
})
