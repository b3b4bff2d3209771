/**
 * Routing decision overhead per request, in microseconds, against a trivial baseline measured in
 * the same run. Everything in-process, no network, no database:
 *
 *   baseline   what routing was before: catalog lookup, adapter lookup, the route object
 *   decision   merged policy (cached per project) + Router.plan over 4 deployments of 2 models
 *              (fallback model), compliance filter, region pin, cost ceiling, one open circuit,
 *              own keys, weighted load balancing
 *   + limits   the same plus project, API key, provider and deployment limits served from the
 *              instance's leased slices (the database is only touched when a slice runs out)
 *
 * Run: node --import ./test-support/tsx-register.mjs --conditions=tollgate-src packages/core/bench/routing-overhead.ts [iterations]
 */
import pino from 'pino'
import { modelFromConfig, type CatalogModel } from '../src/catalog/model-catalog.js'
import type { Database } from '../src/data/database.js'
import { ProviderRegistry } from '../src/providers/provider-registry.js'
import { DeploymentHealth } from '../src/routing/deployment-health.js'
import { RateLimiter } from '../src/routing/rate-limiter.js'
import { Router } from '../src/routing/router.js'
import { mergePolicies } from '../src/routing/routing-policy.js'
import type { ResolvedDeployment, ResolvedProvider, RoutingTable } from '../src/routing/routing-table.js'
import type { ComplianceAttribute, Deployment } from '../src/routing/routing-types.js'

const N = Number(process.argv[2] ?? 200_000)
const registry = new ProviderRegistry([
  { id: 'oai', kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' },
  { id: 'azure-eu', kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' },
  { id: 'anth', kind: 'anthropic', baseUrl: 'http://127.0.0.1:9/v1' },
])
const models = new Map<string, CatalogModel>([
  ['gpt', modelFromConfig({ name: 'gpt', provider: 'oai', prices: { input: '2.5', output: '10' }, contextWindow: 128_000 })],
  ['claude', modelFromConfig({ name: 'claude', provider: 'anth', prices: { input: '3', output: '15' }, contextWindow: 200_000 })],
])
const catalog = { get: (n: string) => models.get(n) } as never

function provider(id: string, attributes: ComplianceAttribute[], region: string, rpm?: number): ResolvedProvider {
  return { id, config: registry.get(id)!.config, apiKey: 'sk', settings: { enabled: true, attributes, region, limits: rpm ? { rpm } : {} }, source: 'config' }
}
function deployment(id: string, model: string, p: ResolvedProvider, weight: number, attrs: ComplianceAttribute[] = [], rpm?: number): ResolvedDeployment {
  const d: Deployment = { id, model, provider: p.id, upstreamModel: model, weight, priority: 0, attributes: attrs, limits: rpm ? { rpm } : {}, enabled: true }
  return {
    deployment: d,
    provider: p,
    adapter: registry.get(p.id)!,
    attributes: new Set([...p.settings.attributes, ...attrs]),
    region: p.settings.region,
    enabled: true,
    keys: { providerRpm: `p:${p.id}:r`, providerTpm: `p:${p.id}:t`, deploymentRpm: `d:${id}:r`, deploymentTpm: `d:${id}:t` },
  }
}
const oai = provider('oai', ['soc2', 'iso27001'], 'us-east-1', 100_000)
const azure = provider('azure-eu', ['soc2', 'iso27001', 'gdpr'], 'eu-west-1', 100_000)
const anth = provider('anth', ['soc2', 'gdpr'], 'eu-central-1', 100_000)
const deployments = new Map<string, ResolvedDeployment[]>([
  ['gpt', [deployment('gpt-oai', 'gpt', oai, 1), deployment('gpt-azure-1', 'gpt', azure, 3, ['noTraining'], 50_000), deployment('gpt-azure-2', 'gpt', azure, 1, ['noTraining'])]],
  ['claude', [deployment('claude-anth', 'claude', anth, 1, ['noTraining'], 50_000)]],
])
const table = { deploymentsOf: (m: CatalogModel) => deployments.get(m.name) ?? [] } as unknown as RoutingTable
const health = new DeploymentHealth({ failureThreshold: 1, cooldownMs: 3_600_000 })
health.failure('gpt-azure-2') // one open circuit
const router = new Router(table, catalog, health)

const policies = new Map<string, ReturnType<typeof mergePolicies>>()
const policyFor = (project: string) => {
  let p = policies.get(project)
  if (!p) {
    p = mergePolicies({
      global: { providerOrder: ['azure-eu', 'oai', 'anth'], fallbackModels: { gpt: ['claude'] } },
      organization: { compliance: { require: ['soc2', 'gdpr'] } },
      project: { regions: ['eu'], maxCostPerRequest: '1', limits: { project: { rpm: 1_000_000 }, apiKey: { rpm: 1_000_000 } } },
    })
    policies.set(project, p)
  }
  return p
}
const ownKeys = new Map([['anth', 'sk-own']])
const request = { model: 'gpt', maxTokens: 512, messages: [{ role: 'user', content: 'hello '.repeat(50) }] }

// A stand-in database that grants whatever is asked (the limiter only calls it when a slice runs out).
let grants = 0
const db = {
  orm: {
    em: {
      fork: () => ({
        execute: async (_sql: string, params: unknown[]) => {
          grants++
          return [{ last_grant: params[2] }]
        },
      }),
    },
  },
} as unknown as Database
const limiter = new RateLimiter(db, { leaseFraction: 1 / 20 })

function baseline(): unknown {
  const model = models.get(request.model)!
  const adapter = registry.get(model.provider)!
  return { model: model.name, provider: model.provider, providerKind: adapter.config.kind, upstreamModel: model.upstreamModel, attempt: 1, ownKey: false }
}
function decide(): unknown {
  const model = models.get(request.model)!
  const policy = policyFor('project-1')
  const plan = router.plan({ model, policy, ownKeys, inputTokens: () => 75, maxTokens: request.maxTokens })
  const first = plan.candidates[0]
  return { model: first.model.name, provider: first.route.provider.id, upstreamModel: first.route.deployment.upstreamModel, attempt: 1, ownKey: first.ownKey !== undefined }
}
async function decideWithLimits(): Promise<unknown> {
  const model = models.get(request.model)!
  const plan = router.plan({ model, policy: policyFor('project-1'), ownKeys, inputTokens: () => 75, maxTokens: request.maxTokens })
  const first = plan.candidates[0]
  const d = first.route
  const client = [
    { key: 'proj:p1:r', limit: 1_000_000, amount: 1 },
    { key: 'key:k1:r', limit: 1_000_000, amount: 1 },
  ]
  const deployment = [
    { key: d.keys.providerRpm, limit: 100_000, amount: 1 },
    { key: d.keys.deploymentRpm, limit: 50_000, amount: 1 },
  ]
  // As the pipeline does: the in-memory slice first, the (refilling) async path only when it runs out.
  if (!limiter.tryTakeLocal(client) && (await limiter.take(client))) throw new Error('unexpected limit')
  if (!limiter.tryTakeLocal(deployment) && (await limiter.take(deployment))) throw new Error('unexpected limit')
  return { model: first.model.name, provider: d.provider.id, upstreamModel: d.deployment.upstreamModel, attempt: 1, ownKey: first.ownKey !== undefined }
}

async function measure(name: string, fn: () => unknown, async = false): Promise<number> {
  let sink = 0
  for (let i = 0; i < Math.min(N, 20_000); i++) sink += async ? ((await fn()) ? 1 : 0) : fn() ? 1 : 0
  const t0 = performance.now()
  for (let i = 0; i < N; i++) sink += async ? ((await fn()) ? 1 : 0) : fn() ? 1 : 0
  const us = ((performance.now() - t0) * 1000) / N
  if (sink === -1) console.log(name)
  return us
}

const plan = router.plan({ model: models.get('gpt')!, policy: policyFor('project-1'), ownKeys, inputTokens: () => 75, maxTokens: 512 })
console.log(`plan: ${plan.candidates.map((c) => c.route.deployment.id).join(' → ')} (excluded: ${plan.excluded.map((e) => `${e.deployment}:${e.reason}`).join(', ')})`)
const results: Record<string, number> = {}
for (let round = 0; round < 3; round++) {
  results.baseline = Math.min(results.baseline ?? Infinity, await measure('baseline', baseline))
  results.decision = Math.min(results.decision ?? Infinity, await measure('decision', decide))
  results.limits = Math.min(results.limits ?? Infinity, await measure('limits', decideWithLimits, true))
}
console.log(`iterations per run: ${N}, best of 3 runs`)
console.log(`baseline (catalog + adapter lookup):          ${results.baseline.toFixed(3)} µs/request`)
console.log(`routing decision (plan, 4 deployments):       ${results.decision.toFixed(3)} µs/request  (+${(results.decision - results.baseline).toFixed(3)} µs, ×${(results.decision / results.baseline).toFixed(1)})`)
console.log(`decision + 4 rate limits (leased, in memory): ${results.limits.toFixed(3)} µs/request  (database grants: ${grants} for ${3 * (N + Math.min(N, 20_000))} requests)`)
await registry.close()
void pino
