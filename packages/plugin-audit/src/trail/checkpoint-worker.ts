import type { KeyObject } from 'node:crypto'
import type { EventBus, WorkerDefinition } from '@tollgate/core'
import { checkpointHead, organizationsNeedingCheckpoint } from './trail-store.js'

/** Periodically signs a checkpoint for every organization whose chain grew since its last one. */
export function checkpointWorker(options: { intervalMs: number; privateKey: KeyObject; events: Pick<EventBus, 'emit'> }): WorkerDefinition {
  const batch = 200
  return {
    name: 'audit.checkpoints',
    intervalMs: options.intervalMs,
    async run({ em }) {
      const orgs = await organizationsNeedingCheckpoint(em, batch)
      for (const org of orgs) {
        const c = await checkpointHead(em, org, options.privateKey)
        if (c) await options.events.emit('audit.checkpointSigned', { organizationId: org, seq: c.seq, hash: c.hash, keyId: c.keyId }, { organizationId: org, em })
      }
      return orgs.length === batch
    },
  }
}
