import t from 'tap'
import { DeploymentHealth, mergePolicies, modelFromConfig, ProviderRegistry, Router, type CatalogModel, type ComplianceAttribute, type ResolvedDeployment, type RoutingTable } from '@tollgate/core'

/** The routing decision in isolation: order, weights, filters, breakers and policy merging. */

const registry = new ProviderRegistry([
  { id: 'p1', kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' },
  { id: 'p2', kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' },
])
t.teardown(() => registry.close())
const models = new Map<string, CatalogModel>([
  ['m', modelFromConfig({ name: 'm', provider: 'p1', prices: { input: '1', output: '10' } })],
  ['backup', modelFromConfig({ name: 'backup', provider: 'p2', prices: { input: '1', output: '1' } })],
])
const catalog = { get: (n: string) => models.get(n) } as never

function dep(id: string, model: string, provider: string, opts: { weight?: number; priority?: number; attributes?: ComplianceAttribute[]; region?: string; enabled?: boolean } = {}): ResolvedDeployment {
  return {
    deployment: { id, model, provider, upstreamModel: model, weight: opts.weight ?? 1, priority: opts.priority ?? 0, attributes: opts.attributes ?? [], limits: {}, enabled: opts.enabled ?? true },
    provider: { id: provider, config: registry.get(provider)!.config, settings: { enabled: true, attributes: [], limits: {} }, source: 'config' },
    adapter: registry.get(provider)!,
    attributes: new Set(opts.attributes ?? []),
    region: opts.region,
    enabled: opts.enabled ?? true,
    keys: { providerRpm: '', providerTpm: '', deploymentRpm: '', deploymentTpm: '' },
  }
}

function routerWith(list: Record<string, ResolvedDeployment[]>, health = new DeploymentHealth({ failureThreshold: 2, cooldownMs: 1000 })) {
  const table = { deploymentsOf: (m: CatalogModel) => list[m.name] ?? [] } as unknown as RoutingTable
  return { router: new Router(table, catalog, health), health }
}
const ids = (plan: { candidates: { route: ResolvedDeployment }[] }) => plan.candidates.map((c) => c.route.deployment.id)

t.test('weighted load balancing follows the weights among equals', async (t) => {
  const { router } = routerWith({ m: [dep('heavy', 'm', 'p1', { weight: 3 }), dep('light', 'm', 'p2', { weight: 1 }), dep('never', 'm', 'p2', { weight: 0 })] })
  const policy = mergePolicies({})
  const firsts: Record<string, number> = {}
  let zeroLast = 0
  for (let i = 0; i < 4000; i++) {
    const plan = router.plan({ model: models.get('m')!, policy, inputTokens: () => 10 })
    const first = plan.candidates[0].route.deployment.id
    firsts[first] = (firsts[first] ?? 0) + 1
    if (plan.candidates.at(-1)!.route.deployment.id === 'never') zeroLast++
  }
  t.equal(zeroLast, 4000, 'weight 0 is only a last resort')
  const share = firsts.heavy / 4000
  t.ok(share > 0.7 && share < 0.8, `weight 3 of 4 gets ~75% of first attempts (${(share * 100).toFixed(1)}%)`)
  t.notOk(firsts.never)
})

t.test('order: requested model first, then own key, provider order, priority', async (t) => {
  const { router } = routerWith({
    m: [dep('a', 'm', 'p1', { priority: 1 }), dep('b', 'm', 'p1'), dep('c', 'm', 'p2')],
    backup: [dep('z', 'backup', 'p1')],
  })
  const base = { model: models.get('m')!, inputTokens: () => 10 }
  t.same(ids(router.plan({ ...base, policy: mergePolicies({ global: { loadBalancing: 'ordered' } }) })), ['b', 'c', 'a'], 'without a provider order, priority decides')
  t.same(ids(router.plan({ ...base, policy: mergePolicies({ global: { loadBalancing: 'ordered', providerOrder: ['p2', 'p1'] } }) })), ['c', 'b', 'a'])
  const own = router.plan({ ...base, ownKeys: new Map([['p2', 'sk-own']]), policy: mergePolicies({ global: { loadBalancing: 'ordered', fallbackModels: { m: ['backup'] } } }) })
  t.same(ids(own), ['c', 'b', 'a', 'z'], 'own key first, fallback models last')
  t.equal(own.candidates[0].ownKey, 'sk-own')
  t.same(ids(router.plan({ ...base, ownKeys: new Map([['p2', 'k']]), policy: mergePolicies({ global: { loadBalancing: 'ordered', preferOwnKeys: false } }) })), ['b', 'c', 'a'])
  t.same(ids(router.plan({ ...base, policy: mergePolicies({ global: { loadBalancing: 'ordered', fallback: false, fallbackModels: { m: ['backup'] } } }) })), ['b', 'c', 'a'], 'no fallback models when fallback is off')
})

t.test('filters and their errors', async (t) => {
  const { router } = routerWith({ m: [dep('eu', 'm', 'p1', { region: 'eu-west-1', attributes: ['soc2', 'gdpr'] }), dep('us', 'm', 'p2', { region: 'us-east-1', attributes: ['soc2'] }), dep('off', 'm', 'p1', { enabled: false })] })
  const base = { model: models.get('m')!, inputTokens: () => 1000 }
  t.same(ids(router.plan({ ...base, policy: mergePolicies({ project: { regions: ['eu'] } }) })), ['eu'])
  t.same(ids(router.plan({ ...base, policy: mergePolicies({ organization: { compliance: { require: ['gdpr'] } } }) })), ['eu'])
  t.same(ids(router.plan({ ...base, policy: mergePolicies({ global: { blockedProviders: ['p1'] } }) })), ['us'])
  t.throws(() => router.plan({ ...base, policy: mergePolicies({ organization: { compliance: { require: ['gdpr'] } }, project: { compliance: { require: ['noTraining'] } } }) }), {
    code: 'TOLLGATE_ERR_ROUTING_COMPLIANCE',
    message: /missing: noTraining, gdpr/,
  })
  // 1000 input × 1 µ$ + 100 output × 10 µ$ = 0.002 $ > 0.001 $.
  t.throws(() => router.plan({ ...base, maxTokens: 100, policy: mergePolicies({ project: { maxCostPerRequest: '0.001' } }) }), { code: 'TOLLGATE_ERR_ROUTING_COST_CEILING' })
  t.same(ids(router.plan({ ...base, maxTokens: 100, policy: mergePolicies({ project: { maxCostPerRequest: '0.002' } }) })).length, 2, 'exactly at the ceiling is allowed')
})

t.test('circuit breakers: open after the threshold, panic routing when all are open, probe after the cooldown', async (t) => {
  const { router, health } = routerWith({ m: [dep('a', 'm', 'p1'), dep('b', 'm', 'p2')] })
  const policy = mergePolicies({ global: { loadBalancing: 'ordered' } })
  const base = { model: models.get('m')!, policy, inputTokens: () => 1 }
  const now = Date.now()
  health.failure('a', now)
  t.same(ids(router.plan({ ...base, now })), ['a', 'b'], 'one failure is below the threshold')
  health.failure('a', now)
  t.same(ids(router.plan({ ...base, now })), ['b'], 'open: left out')
  health.failure('b', now)
  health.failure('b', now)
  const panic = router.plan({ ...base, now })
  t.same(ids(panic), ['a', 'b'], 'all open: tried anyway, in order')
  t.ok(panic.candidates.every((c) => c.panic))
  const later = router.plan({ ...base, now: now + 1001 })
  t.same(ids(later), ['a', 'b'])
  t.ok(later.candidates.every((c) => c.probe), 'after the cooldown each is a probe')
  health.startProbe('a')
  t.same(ids(router.plan({ ...base, now: now + 1002 })), ['b'], 'one probe at a time')
  health.success('a')
  t.same(ids(router.plan({ ...base, now: now + 1003 })), ['a', 'b'], 'a success closes the circuit')
  health.cooldown('a', 5, now + 1003)
  t.same(ids(router.plan({ ...base, now: now + 1004 })), ['b', 'a'], 'a deployment that asked to wait goes last')
})

t.test('policy merging: specific levels win field by field; compliance accumulates', async (t) => {
  const p = mergePolicies({
    global: { providerOrder: ['g'], retry: { maxAttempts: 4, initialBackoffMs: 5 }, compliance: { require: ['soc2'] }, timeouts: { attemptMs: 1000, totalMs: 500 } },
    organization: { providerOrder: ['o'], compliance: { require: ['gdpr'] } },
    project: { retry: { maxAttempts: 2 }, limits: { apiKey: { rpm: 5 } } },
  })
  t.same(p.providerOrder, ['o'])
  t.same(p.retry, { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 10_000 })
  t.same(p.compliance.map((c) => c.require), [['soc2'], ['gdpr']])
  t.same(p.timeouts, { attemptMs: 1000, totalMs: 1000 }, 'the total budget is never below one attempt')
  t.same(p.limits.apiKey, { rpm: 5 })
  t.equal(mergePolicies({}).retry.maxAttempts, undefined, 'default: each deployment once')
})
