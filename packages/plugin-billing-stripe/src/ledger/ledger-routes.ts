import { formatUsd, type PluginHost, TollgateError } from '@tollgate/core'
import { isUuid } from './account-directory.js'
import { LEDGER_TX_TYPES, type LedgerEntry, type LedgerTxType, type LedgerVerification } from './ledger-types.js'
import { requireBillingAccess } from './route-access.js'
import type { SqlLedger } from './sql-ledger.js'

/** A ledger entry as JSON: money as USD decimal strings and exact picodollar strings. */
export function entryJson(e: LedgerEntry): Record<string, unknown> {
  return {
    id: e.id,
    accountId: e.accountId,
    organizationId: e.organizationId,
    ...(e.userId ? { userId: e.userId } : {}),
    type: e.type,
    amountUsd: formatUsd(e.amount),
    amountPicodollars: e.amount.toString(),
    balanceAfterUsd: formatUsd(e.balanceAfter),
    balanceAfterPicodollars: e.balanceAfter.toString(),
    idempotencyKey: e.idempotencyKey,
    ...(e.description ? { description: e.description } : {}),
    ...(e.reference ? { reference: e.reference } : {}),
    ...(e.actor ? { actor: e.actor } : {}),
    ...(e.reversesEntryId ? { reversesEntryId: e.reversesEntryId } : {}),
    ...(e.metadata ? { metadata: e.metadata } : {}),
    createdAt: e.createdAt.toISOString(),
  }
}

/** A verification result as JSON. */
export function verificationJson(v: LedgerVerification): Record<string, unknown> {
  return {
    ok: v.ok,
    accountsChecked: v.accountsChecked,
    mismatches: v.mismatches.map((m) => ({ ...m, balance: m.balance.toString(), sum: m.sum.toString() })),
    brokenEntries: v.brokenEntries ?? [],
  }
}

const orgParams = { type: 'object', required: ['organizationId'], properties: { organizationId: { type: 'string' } } } as const

function optionalUser(userId: unknown): string | undefined {
  if (userId === undefined) return undefined
  if (!isUuid(userId)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', 'userId must be a UUID', { field: 'userId' })
  return userId
}

function optionalDate(text: unknown, field: string): Date | undefined {
  if (text === undefined) return undefined
  const d = new Date(String(text))
  if (Number.isNaN(d.getTime())) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `${field} must be an ISO 8601 date-time`, { field })
  return d
}

/**
 * Balance, transaction history and ledger verification routes. A member may read their own
 * personal account; everything else needs billing access (owner/admin/billing contact).
 */
export function registerLedgerRoutes(host: PluginHost, deps: { ledger: SqlLedger }): void {
  const { ledger } = deps
  host.routes('/billing', async (app) => {
    app.get('/organizations/:organizationId/balance', { schema: { params: orgParams, querystring: { type: 'object', additionalProperties: false, properties: { userId: { type: 'string' } } } } }, async (request) => {
      const { organizationId } = request.params as { organizationId: string }
      const userId = optionalUser((request.query as { userId?: string }).userId)
      await accessForAccount(host, request, organizationId, userId)
      const balance = await ledger.balance({ organizationId, ...(userId ? { userId } : {}) })
      return { organizationId, ...(userId ? { userId } : {}), balanceUsd: formatUsd(balance), balancePicodollars: balance.toString() }
    })

    app.get(
      '/organizations/:organizationId/ledger',
      {
        schema: {
          params: orgParams,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { userId: { type: 'string' }, types: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 500 }, cursor: { type: 'string', maxLength: 100 } },
          },
        },
      },
      async (request) => {
        const { organizationId } = request.params as { organizationId: string }
        const q = request.query as { userId?: string; types?: string; from?: string; to?: string; limit?: number; cursor?: string }
        const userId = optionalUser(q.userId)
        await accessForAccount(host, request, organizationId, userId)
        const types = q.types ? (q.types.split(',').map((t) => t.trim()) as LedgerTxType[]) : undefined
        for (const t of types ?? []) {
          if (!(LEDGER_TX_TYPES as readonly string[]).includes(t)) throw new TollgateError('TOLLGATE_ERR_REQUEST_INVALID_BODY', `types: "${t}" is not one of ${LEDGER_TX_TYPES.join(', ')}`, { field: 'types' })
        }
        const page = await ledger.history({ organizationId, ...(userId ? { userId } : {}) }, { types, from: optionalDate(q.from, 'from'), to: optionalDate(q.to, 'to'), limit: q.limit, cursor: q.cursor })
        return { entries: page.entries.map(entryJson), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) }
      },
    )

    app.post('/organizations/:organizationId/ledger/verify', { schema: { params: orgParams } }, async (request) => {
      const { organizationId } = request.params as { organizationId: string }
      await requireBillingAccess(host, request, organizationId, 'read')
      const org = await ledger.verify({ organizationId })
      return verificationJson(org)
    })

    app.post('/admin/verify', async (request) => {
      if (!request.principal?.platformAdmin) throw new TollgateError('TOLLGATE_ERR_AUTH_FORBIDDEN', 'Only platform administrators may verify every account')
      return verificationJson(await ledger.verify())
    })
  })
}

/** A member may read their own personal account; other accounts need billing access. */
async function accessForAccount(host: PluginHost, request: Parameters<typeof requireBillingAccess>[1], organizationId: string, userId: string | undefined): Promise<void> {
  if (userId && request.principal?.userId === userId && request.principal.organizationId === organizationId) return
  await requireBillingAccess(host, request, organizationId, 'read')
}
