import { definePlugin } from '@tollgate/core'
import type { FastifyInstance } from 'fastify'
import { PLACEHOLDER_PAGE } from './placeholder-page.js'

export { PLACEHOLDER_PAGE } from './placeholder-page.js'

/** Security headers sent with every dashboard page: no scripts, no framing, no sniffing. */
const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
}

/**
 * A fastify plugin that serves the dashboard under the prefix it is registered with. In this
 * release it serves one static placeholder page at the prefix's root; the built single-page
 * application replaces it in a later release without changing how it is mounted.
 */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  app.get('/', async (_request, reply) => reply.headers(HEADERS).send(PLACEHOLDER_PAGE))
}

/** Options of the dashboard plugin. This release accepts none. */
export type DashboardPluginConfig = Record<string, never>

/**
 * The dashboard as a gateway plugin: mounts `dashboardRoutes` at `/dashboard` in its own scope.
 * The page is public (it shows no data), so the scope does not require an API key.
 */
export const dashboardPlugin = definePlugin<DashboardPluginConfig>({
  id: 'dashboard',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  register(host) {
    host.routes('/dashboard', dashboardRoutes, { auth: 'none' })
  },
})
