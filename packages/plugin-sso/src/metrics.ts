import type { PluginHost } from '@tollgate/core'

/**
 * The plugin's metrics, fed from its own domain events (so every path that emits one counts):
 * `tollgate_sso_logins_total{method, outcome}` and `tollgate_sso_scim_operations_total{resource, operation}`.
 */
export function registerSsoMetrics(host: PluginHost): void {
  const logins = host.metrics.counter({ name: 'tollgate_sso_logins_total', help: 'Sign-ins by method (oidc, saml, password) and outcome (succeeded, failed)', labelNames: ['method', 'outcome'] })
  const scim = host.metrics.counter({ name: 'tollgate_sso_scim_operations_total', help: 'SCIM changes by resource (user, group) and operation', labelNames: ['resource', 'operation'] })
  host.events.on('sso.login.succeeded', (p) => void logins.inc({ method: p.method, outcome: 'succeeded' }))
  host.events.on('sso.login.failed', (p) => void logins.inc({ method: p.method, outcome: 'failed' }))
  for (const name of ['scim.user.created', 'scim.user.updated', 'scim.user.deactivated', 'scim.user.deleted', 'scim.group.created', 'scim.group.updated', 'scim.group.deleted'] as const) {
    const [, resource, operation] = name.split('.')
    host.events.on(name, () => void scim.inc({ resource, operation }))
  }
}
