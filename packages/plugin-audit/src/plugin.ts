import { createPublicKey, type KeyObject } from 'node:crypto'
import { CoreServices, createStateKey, definePlugin, TollgateError } from '@tollgate/core'
import { type AuditService, AuditServiceRef } from './audit-service.js'
import { type AuditPluginConfig, auditConfigSchema } from './config.js'
import './errors.js'
import './events.js'
import { AuditInit } from './migrations/audit-0001-init.js'
import { captureBody, StreamCapture } from './request-log/body-capture.js'
import { BodyWriter } from './request-log/body-writer.js'
import { RequestLogConsumer } from './request-log/request-log-consumer.js'
import { RetentionPolicies } from './request-log/retention-policies.js'
import { retentionWorker } from './request-log/retention-worker.js'
import { registerRequestLogRoutes } from './routes/request-log-routes.js'
import { registerRetentionRoutes } from './routes/retention-routes.js'
import type { AuditRouteDeps } from './routes/route-deps.js'
import { registerTrailRoutes } from './routes/trail-routes.js'
import { appendEntry } from './trail/audit-appender.js'
import { checkpointWorker } from './trail/checkpoint-worker.js'
import { keyIdOf, loadPrivateKey, loadPublicKey } from './trail/checkpoint-signer.js'
import { AuditExtensions, BUILT_IN_MAPPINGS, isIgnored } from './trail/event-mapping.js'
import { entryFromEvent, recordInTransaction } from './trail/event-recorder.js'
import { checkpointHead, verifyChain } from './trail/trail-store.js'

/** Per-request capture of verbose data, set only for organizations whose retention is `retain`. */
const Capture = createStateKey<{ stream?: StreamCapture }>('audit.capture')

function configError(field: string, message: string): TollgateError {
  return new TollgateError('TOLLGATE_ERR_PLUGIN_CONFIG_INVALID', `plugin "audit": ${message}`, { field: `plugins.audit.${field}` })
}

/** Loads the signing key and every key checkpoints may be verified with. */
function loadKeys(config: AuditPluginConfig): { privateKey?: KeyObject; publicKeys: Map<string, KeyObject> } {
  const publicKeys = new Map<string, KeyObject>()
  let privateKey: KeyObject | undefined
  if (config.checkpoints.privateKey) {
    try {
      privateKey = loadPrivateKey(config.checkpoints.privateKey)
    } catch (err) {
      throw configError('checkpoints.privateKey', `the checkpoint signing key does not load: ${(err as Error).message}`)
    }
  }
  config.checkpoints.publicKeys.forEach((text, i) => {
    try {
      const k = loadPublicKey(text)
      publicKeys.set(keyIdOf(k), k)
    } catch (err) {
      throw configError(`checkpoints.publicKeys[${i}]`, `the public key does not load: ${(err as Error).message}`)
    }
  })
  if (privateKey) {
    const pub = createPublicKey(privateKey)
    publicKeys.set(keyIdOf(pub), pub)
  }
  return { privateKey, publicKeys }
}

/**
 * The audit plugin: a tamper-evident, hash-chained audit trail of every domain event (core's and
 * other plugins'), signed checkpoints, a metadata-only request log, per-organization retention of
 * verbose data, and streamed CSV/JSON exports. Routes live under `/audit`.
 */
export const auditPlugin = definePlugin<AuditPluginConfig>({
  id: 'audit',
  configSchema: auditConfigSchema,
  migrations: [{ name: 'audit:0001_init', class: AuditInit }],
  register(host, config) {
    const { privateKey, publicKeys } = loadKeys(config)
    if (!privateKey) host.log.warn('audit: no checkpoints.privateKey configured; the chain is verified but no signed checkpoints are made')
    const identity = host.services.get(CoreServices.identity)
    const usageWriter = host.services.get(CoreServices.usageWriter)
    const mappings = () => [...host.services.extensions(AuditExtensions.eventMappings), ...BUILT_IN_MAPPINGS]

    const entries = host.metrics.counter({ name: 'tollgate_audit_entries_total', help: 'Audit trail entries appended' })
    const bodies = host.metrics.counter({ name: 'tollgate_audit_request_bodies_total', help: 'Request bodies captured for organizations that retain verbose data' })

    // Whether an event name is skipped, remembered per name (the filter runs for every event on the
    // bus, per-request ones included) and forgotten when another plugin adds a mapping.
    const ignored = new Map<string, boolean>()
    let mappingCount = -1
    const skip = (name: string): boolean => {
      const added = host.services.extensions(AuditExtensions.eventMappings).length
      if (added !== mappingCount) {
        ignored.clear()
        mappingCount = added
      }
      let result = ignored.get(name)
      if (result === undefined) {
        result = isIgnored(name, mappings(), config.ignoreEvents)
        if (ignored.size < 10_000) ignored.set(name, result)
      }
      return result
    }

    // The trail: every event nobody excluded, in the emitter's transaction.
    host.events.onAny(
      async (name, payload, meta) => {
        await recordInTransaction(host.db, meta, entryFromEvent(name, payload, meta, mappings(), config.maskKeys))
        entries.inc()
      },
      { transactional: true, filter: (name) => !skip(name) },
    )

    // The request log, from core's usage events (exactly once), and verbose bodies where retained.
    const consumer = new RequestLogConsumer(host.usage, host.log, config.requestLog.batchSize)
    const policies = new RetentionPolicies(host.db, { mode: config.retention.defaultMode, windowDays: config.retention.windowDays }, config.retention.policyCacheTtlMs)
    const bodyWriter = new BodyWriter(host.db, host.events, host.log, { maxBytes: config.retention.maxBodyBytes, batchSize: 200, flushIntervalMs: 500 })

    host.hooks.add('beforeUpstream', async (ctx) => {
      const policy = policies.peek(ctx.principal.organizationId) ?? (await policies.get(ctx.principal.organizationId))
      if (policy.mode === 'retain') ctx.state.set(Capture, {})
    })
    host.hooks.add('onResponseChunk', async (ctx, chunk) => {
      const capture = ctx.state.get(Capture)
      if (!capture) return
      capture.stream ??= new StreamCapture()
      capture.stream.add(chunk)
    })
    host.hooks.add('onComplete', async (ctx) => {
      if (!(ctx.principal as typeof ctx.principal | undefined)) return
      // A request rejected before beforeUpstream still has its request and error kept when the organization retains.
      const capture = ctx.state.get(Capture) ?? (policies.peek(ctx.principal.organizationId)?.mode === 'retain' ? {} : undefined)
      if (!capture) return
      bodyWriter.add(captureBody(ctx, capture.stream))
      bodies.inc()
    })

    host.workers.add(retentionWorker({ intervalMs: config.retention.intervalMs, batchSize: 1000, defaultWindowDays: config.retention.windowDays }))
    if (privateKey) host.workers.add(checkpointWorker({ intervalMs: config.checkpoints.intervalMs, privateKey, events: host.events }))

    const flush = async () => {
      await usageWriter.flush()
      await consumer.drain()
      await bodyWriter.flush()
    }
    host.hooks.add('onReady', async () => consumer.start(config.requestLog.pollIntervalMs))
    host.hooks.add('onClose', async () => {
      await consumer.stop()
      await bodyWriter.close()
      await flush().catch((err) => host.log.error({ err }, 'audit: final request log copy failed; it resumes at the next start'))
    })

    const service: AuditService = {
      async record(entry, em) {
        const full = { ...entry, occurredAt: entry.occurredAt ?? new Date() }
        const made = em ? await appendEntry(em, full) : await host.db.orm.em.fork().transactional((tx) => appendEntry(tx, full))
        entries.inc()
        return made
      },
      verify: (organizationId, { em, ...options } = {}) => verifyChain(em ?? host.db.orm.em.fork(), organizationId, { publicKeys, ...options }),
      async checkpoint(organizationId) {
        if (!privateKey) throw new TollgateError('TOLLGATE_ERR_AUDIT_CHECKPOINTS_DISABLED', 'Checkpoints are disabled: configure plugins.audit.checkpoints.privateKey')
        return host.db.orm.em.fork().transactional((tx) => checkpointHead(tx, organizationId, privateKey))
      },
      flush,
    }
    host.services.provide(AuditServiceRef, service)

    const deps: AuditRouteDeps = { db: host.db, identity, events: host.events, policies, publicKeys, privateKey, defaultPageSize: config.pageSize }
    host.routes('/audit', async (app) => {
      registerTrailRoutes(app, deps)
      registerRequestLogRoutes(app, deps)
      registerRetentionRoutes(app, deps)
    })
  },
})
